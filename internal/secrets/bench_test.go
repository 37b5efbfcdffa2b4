package secrets

import (
	"context"
	"testing"

	"github.com/graphphoto/graphphoto/internal/secrets/secretstest"
)

// BenchmarkCachedCredentials is the cost every invocation after the first pays.
func BenchmarkCachedCredentials(b *testing.B) {
	fc := &fakeClient{}
	fc.script(secretValue(testClient))
	s := NewSource(fc, "graph/app")
	ctx := context.Background()
	if _, err := s.Credentials(ctx, false); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Credentials(ctx, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFirstReadThroughSDK is a cold read: the real SDK client against the emulator on
// loopback (signing, HTTP, JSON, validation), as a container's first invocation pays it.
func BenchmarkFirstReadThroughSDK(b *testing.B) {
	srv := secretstest.New(secretstest.WithCredentials(emuAccessKey, emuSecretKey))
	defer srv.Close()
	if _, err := srv.Put("graph/app", `{"tenantId":"`+testTenant+`","clientId":"`+testClient+`","clientSecret":"`+testClientSecret+`"}`); err != nil {
		b.Fatal(err)
	}
	client := sdkClient(srv.URL, emuSecretKey)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewSource(client, "graph/app").Credentials(ctx, false); err != nil {
			b.Fatal(err)
		}
	}
}
