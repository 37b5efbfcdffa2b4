package secretstest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/graphphoto/graphphoto/internal/secrets/secretstest"
)

// The SDK client reaches the emulator through BaseEndpoint; a process would set
// AWS_ENDPOINT_URL_SECRETS_MANAGER to srv.URL instead.
func ExampleNew() {
	srv := secretstest.New()
	defer srv.Close()
	if _, err := srv.Put("graph/app", `{"tenantId":"t","clientId":"c","clientSecret":"s"}`); err != nil {
		panic(err)
	}

	client := secretsmanager.New(secretsmanager.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
	out, err := client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("graph/app")})
	if err != nil {
		panic(err)
	}
	fmt.Println(aws.ToString(out.Name), out.VersionStages)

	_, err = client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("absent")})
	var notFound *types.ResourceNotFoundException
	fmt.Println(errors.As(err, &notFound), len(srv.Requests()))
	// Output:
	// graph/app [AWSCURRENT]
	// true 2
}
