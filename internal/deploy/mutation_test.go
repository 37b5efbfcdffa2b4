package deploy

import (
	"strings"
	"testing"

	"github.com/graphphoto/graphphoto/internal/lambdaimage"
)

// A mutation breaks one thing in a copy of the project's files; the named check must then
// report it. Each old text must occur exactly once, so a mutation cannot silently stop applying
// when the files change.
type mutation struct {
	name, file, old, new, check string
}

var mutations = []mutation{
	// image: commands, bootstraps, entry point
	{"command names no bootstrap", "template.yaml", `Command: ["/var/task/onupload"]`, `Command: ["/var/task/onupload2"]`, "image"},
	{"api bootstrap not built", "Dockerfile", `    && go build -trimpath -tags lambda.norpc -ldflags="-s -w" -o /out/api ./functions/api` + "\n", "\n", "image"},
	{"bootstrap without lambda.norpc", "Dockerfile", `go build -trimpath -tags lambda.norpc -ldflags="-s -w" -o /out/onupload`, `go build -trimpath -ldflags="-s -w" -o /out/onupload`, "image"},
	{"pushed image ignored", "template.yaml", "      ImageUri: !If [PushedImage, !Ref ImageUri, !Ref AWS::NoValue] # empty: sam build's image\n      ImageConfig:\n        Command: [\"/var/task/api\"]", "      ImageConfig:\n        Command: [\"/var/task/api\"]", "image"},
	{"CMD names no function", "Dockerfile", `CMD ["/var/task/onupload"]`, `CMD ["/var/task/other"]`, "image"},
	{"base entry point kept", "Dockerfile", "ENTRYPOINT []\n", "", "image"},
	// dockerfile: the tested image's release, packages, layout and flags
	{"Go version differs from go.mod", "Dockerfile", "ARG GO_VERSION=1.26", "ARG GO_VERSION=1.25", "dockerfile"},
	{"runtime on Amazon Linux", "Dockerfile", "FROM debian:bookworm-slim", "FROM public.ecr.aws/lambda/provided:al2023", "dockerfile"},
	{"bootstraps built on another Debian", "Dockerfile", "FROM debian:bookworm AS build", "FROM debian:trixie AS build", "dockerfile"},
	{"runtime packages outside the list", "Dockerfile", "RUN sh /tmp/image/install.sh /tmp/image/packages.txt && rm -rf /tmp/image", "RUN apt-get update && apt-get install -y libvips42", "dockerfile"},
	{"install script on another list", "Dockerfile", "RUN sh /tmp/image/install.sh /tmp/image/packages.txt", "RUN sh /tmp/image/install.sh /tmp/packages.txt", "dockerfile"},
	{"-dev package in the list", lambdaimage.PackagesFile, "\nlibvips42\n", "\nlibvips42\nlibvips-dev\n", "dockerfile"},
	{"libvips built from source", "Dockerfile", "RUN go mod download", "RUN curl -fsSLo vips.tar.xz https://github.com/libvips/libvips/releases/download/v8.18.4/vips-8.18.4.tar.xz && go mod download", "dockerfile"},
	{"ImageMagick headers in the build", "Dockerfile", "pkg-config libvips-dev", "pkg-config libvips-dev libmagickcore-dev", "dockerfile"},
	{"bootstrap flags differ from the assembly's", "Dockerfile", `go build -trimpath -tags lambda.norpc -ldflags="-s -w" -o /out/api`, `go build -tags lambda.norpc -ldflags="-s -w" -o /out/api`, "dockerfile"},
	{"bootstrap elsewhere than the assembly's", "Dockerfile", "COPY --from=build /out/onupload /out/api /var/task/", "COPY --from=build /out/onupload /out/api /var/task/bin/", "dockerfile"},
	{"no MALLOC_ARENA_MAX", "Dockerfile", "ENV VIPS_BLOCK_UNTRUSTED=1 \\\n    MALLOC_ARENA_MAX=2", "ENV VIPS_BLOCK_UNTRUSTED=1", "dockerfile"},
	{"environment the assembly lacks", "Dockerfile", "    MALLOC_ARENA_MAX=2\n", "    MALLOC_ARENA_MAX=2 \\\n    VIPS_CONCURRENCY=1\n", "dockerfile"},
	{"package list outside the build context", ".dockerignore", "!image/\n", "", "dockerfile"},
	{"working folder differs", "Dockerfile", "WORKDIR /var/task", "WORKDIR /", "dockerfile"},
	// environment and parameters
	{"variable not declared", "template.yaml", "        UPLOAD_URL_TTL: 15m\n", "", "environment"},
	{"value config refuses", "template.yaml", "UPLOAD_URL_TTL: 15m", `UPLOAD_URL_TTL: "15"`, "environment"},
	{"variable the code never reads", "template.yaml", "        LOG_LEVEL: !Ref LogLevel\n", "        LOG_LEVEL: !Ref LogLevel\n        LOG_LEVL: info\n", "environment"},
	{"bound config refuses", "template.yaml", "    MaxValue: 4194304", "    MaxValue: 5000000", "parameters"},
	{"allowed value config refuses", "template.yaml", "AllowedValues: [attention, centre, none]", "AllowedValues: [attention, centre, none, smart]", "parameters"},
	// functions
	{"too little memory", "template.yaml", "    Default: 2048\n    MinValue: 2048", "    Default: 1024\n    MinValue: 1024", "functions"},
	{"text logs", "template.yaml", "      LoggingConfig:\n        LogFormat: JSON\n        ApplicationLogLevel: !FindInMap [LogLevels, !Ref LogLevel, Lambda]\n        SystemLogLevel: WARN\n        LogGroup: !Ref ApiLogGroup", "      LoggingConfig:\n        LogFormat: Text\n        ApplicationLogLevel: !FindInMap [LogLevels, !Ref LogLevel, Lambda]\n        SystemLogLevel: WARN\n        LogGroup: !Ref ApiLogGroup", "functions"},
	{"arm64, which nothing verifies, by default", "template.yaml", "    Default: x86_64\n    AllowedValues: [x86_64, arm64]", "    Default: arm64\n    AllowedValues: [x86_64, arm64]", "functions"},
	{"no tracing", "template.yaml", "    Tracing: Active", "    Tracing: PassThrough", "functions"},
	{"API timeout beyond the gateway's", "template.yaml", "Timeout: 29 #", "Timeout: 60 #", "functions"},
	{"log level mapping wrong", "template.yaml", "    warn: { Lambda: WARN }", "    warn: { Lambda: INFO }", "functions"},
	// IAM
	{"wildcard action", "template.yaml", "                  - s3:PutObjectVersionTagging\n", "                  - s3:*\n", "iam"},
	{"secret on any resource", "template.yaml", "                Action: secretsmanager:GetSecretValue\n                Resource: !Ref GraphSecretArn\n              - Sid: ConsumeUploadQueue", "                Action: secretsmanager:GetSecretValue\n                Resource: \"*\"\n              - Sid: ConsumeUploadQueue", "iam"},
	{"tagging of versions missing", "template.yaml", "                  - s3:GetObjectVersionTagging\n", "", "iam"},
	{"action the code does not need", "template.yaml", "                  - s3:GetObjectVersionTagging\n", "                  - s3:GetObjectVersionTagging\n                  - s3:DeleteObject\n", "iam"},
	{"presign beyond the upload prefix", "template.yaml", `-uploads-${AWS::AccountId}-${AWS::Region}/${UploadPrefix}*"`, `-uploads-${AWS::AccountId}-${AWS::Region}/*"`, "iam"},
	{"managed policy", "template.yaml", "  ApiRole:\n    Type: AWS::IAM::Role\n    Properties:\n", "  ApiRole:\n    Type: AWS::IAM::Role\n    Properties:\n      ManagedPolicyArns: [arn:aws:iam::aws:policy/AmazonS3FullAccess]\n", "iam"},
	{"SAM policy templates", "template.yaml", "      Role: !GetAtt ApiRole.Arn\n", "      Role: !GetAtt ApiRole.Arn\n      Policies: [AWSLambdaExecute]\n", "iam"},
	// queue
	{"no partial batch failures", "template.yaml", "            FunctionResponseTypes: [ReportBatchItemFailures]\n", "", "queue"},
	{"visibility timeout too short", "template.yaml", "VisibilityTimeout: 720", "VisibilityTimeout: 300", "queue"},
	{"concurrency not a parameter", "template.yaml", "MaximumConcurrency: !Ref MaximumConcurrency", "MaximumConcurrency: 50", "queue"},
	{"concurrency default not derived", "template.yaml", "    Default: 5\n    MinValue: 2", "    Default: 20\n    MinValue: 2", "queue"},
	{"no DLQ", "template.yaml", "      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt UploadDeadLetterQueue.Arn\n        maxReceiveCount: 5\n", "", "queue"},
	{"queue open to any account", "template.yaml", "-uploads-${AWS::AccountId}-${AWS::Region}\"\n              StringEquals:\n                aws:SourceAccount: !Ref AWS::AccountId\n", "-uploads-${AWS::AccountId}-${AWS::Region}\"\n", "queue"},
	{"bucket does not wait for the queue policy", "template.yaml", "    DependsOn: UploadQueuePolicy # S3 checks it may send to the queue when the bucket is created\n", "", "queue"},
	{"API rate not derived", "template.yaml", "    Default: 10\n    MinValue: 1\n    MaxValue: 10000", "    Default: 50\n    MinValue: 1\n    MaxValue: 10000", "queue"},
	// buckets
	{"bucket policy by Ref", "template.yaml", "      Bucket: !Sub \"${BucketNamePrefix}-uploads-${AWS::AccountId}-${AWS::Region}\"\n", "      Bucket: !Ref UploadBucket\n", "buckets"},
	{"public policies allowed", "template.yaml", "      PublicAccessBlockConfiguration:\n        BlockPublicAcls: true\n        BlockPublicPolicy: true\n        IgnorePublicAcls: true\n        RestrictPublicBuckets: true\n      OwnershipControls:\n        Rules: [{ ObjectOwnership: BucketOwnerEnforced }]\n      BucketEncryption:\n        ServerSideEncryptionConfiguration:\n          - ServerSideEncryptionByDefault: { SSEAlgorithm: AES256 }\n      VersioningConfiguration", "      PublicAccessBlockConfiguration:\n        BlockPublicAcls: true\n        BlockPublicPolicy: false\n        IgnorePublicAcls: true\n        RestrictPublicBuckets: true\n      OwnershipControls:\n        Rules: [{ ObjectOwnership: BucketOwnerEnforced }]\n      BucketEncryption:\n        ServerSideEncryptionConfiguration:\n          - ServerSideEncryptionByDefault: { SSEAlgorithm: AES256 }\n      VersioningConfiguration", "buckets"},
	{"bucket name drifts", "template.yaml", `aws:SourceArn: !Sub "arn:${AWS::Partition}:s3:::${BucketNamePrefix}-uploads-`, `aws:SourceArn: !Sub "arn:${AWS::Partition}:s3:::${BucketNamePrefix}-upload-`, "buckets"},
	{"name can exceed 63 characters", "template.yaml", `"^[a-z0-9][a-z0-9-]{0,25}[a-z0-9]$"`, `"^[a-z0-9][a-z0-9-]{0,26}[a-z0-9]$"`, "buckets"},
	// the state bucket and its grants
	{"state bucket notifies the queue", "template.yaml", "      # One small JSON object per target under records/", "      NotificationConfiguration:\n        QueueConfigurations:\n          - Event: s3:ObjectCreated:*\n            Queue: !GetAtt UploadQueue.Arn\n      # One small JSON object per target under records/", "state"},
	{"records in the upload bucket", "template.yaml", `        STATE_BUCKET: !Sub "${BucketNamePrefix}-state-${AWS::AccountId}-${AWS::Region}"`, `        STATE_BUCKET: !Sub "${BucketNamePrefix}-uploads-${AWS::AccountId}-${AWS::Region}"`, "state"},
	{"skip off by default", "template.yaml", "    Default: \"true\"\n    AllowedValues: [\"true\", \"false\"]", "    Default: \"false\"\n    AllowedValues: [\"true\", \"false\"]", "state"},
	{"skip not a parameter", "template.yaml", "        SKIP_UNCHANGED: !Ref SkipUnchanged", "        SKIP_UNCHANGED: \"true\"", "state"},
	{"records grant on the whole state bucket", "template.yaml", "                Resource: !Sub \"arn:${AWS::Partition}:s3:::${BucketNamePrefix}-uploads-${AWS::AccountId}-${AWS::Region}\"\n              - Sid: PhotoRecords # internal/photostate: read a target's record, write it conditionally\n                Effect: Allow\n                Action: [s3:GetObject, s3:PutObject]\n                Resource: !Sub \"arn:${AWS::Partition}:s3:::${BucketNamePrefix}-state-${AWS::AccountId}-${AWS::Region}/records/*\"", "                Resource: !Sub \"arn:${AWS::Partition}:s3:::${BucketNamePrefix}-uploads-${AWS::AccountId}-${AWS::Region}\"\n              - Sid: PhotoRecords # internal/photostate: read a target's record, write it conditionally\n                Effect: Allow\n                Action: [s3:GetObject, s3:PutObject]\n                Resource: !Sub \"arn:${AWS::Partition}:s3:::${BucketNamePrefix}-state-${AWS::AccountId}-${AWS::Region}/*\"", "iam"},
	{"API may not write records", "template.yaml", "/${UploadPrefix}*\"\n              - Sid: PhotoRecords # internal/photostate: read a target's record, write it conditionally\n                Effect: Allow\n                Action: [s3:GetObject, s3:PutObject]", "/${UploadPrefix}*\"\n              - Sid: PhotoRecords # internal/photostate: read a target's record, write it conditionally\n                Effect: Allow\n                Action: [s3:GetObject]", "iam"},
	{"records may be deleted", "template.yaml", "/${UploadPrefix}*\"\n              - Sid: PhotoRecords # internal/photostate: read a target's record, write it conditionally\n                Effect: Allow\n                Action: [s3:GetObject, s3:PutObject]", "/${UploadPrefix}*\"\n              - Sid: PhotoRecords # internal/photostate: read a target's record, write it conditionally\n                Effect: Allow\n                Action: [s3:GetObject, s3:PutObject, s3:DeleteObject]", "iam"},
	{"state bucket unencrypted", "template.yaml", "      # replaced with conditional writes (If-Match), and old versions would only pile up.\n      BucketName: !Sub \"${BucketNamePrefix}-state-${AWS::AccountId}-${AWS::Region}\"\n      PublicAccessBlockConfiguration:\n        BlockPublicAcls: true\n        BlockPublicPolicy: true\n        IgnorePublicAcls: true\n        RestrictPublicBuckets: true\n      OwnershipControls:\n        Rules: [{ ObjectOwnership: BucketOwnerEnforced }]\n      BucketEncryption:\n        ServerSideEncryptionConfiguration:\n          - ServerSideEncryptionByDefault: { SSEAlgorithm: AES256 }\n", "      # replaced with conditional writes (If-Match), and old versions would only pile up.\n      BucketName: !Sub \"${BucketNamePrefix}-state-${AWS::AccountId}-${AWS::Region}\"\n      PublicAccessBlockConfiguration:\n        BlockPublicAcls: true\n        BlockPublicPolicy: true\n        IgnorePublicAcls: true\n        RestrictPublicBuckets: true\n      OwnershipControls:\n        Rules: [{ ObjectOwnership: BucketOwnerEnforced }]\n", "buckets"},
	{"state bucket reachable without TLS", "template.yaml", "      Bucket: !Sub \"${BucketNamePrefix}-state-${AWS::AccountId}-${AWS::Region}\"\n      PolicyDocument:\n        Version: \"2012-10-17\"\n        Statement:\n          - Sid: TLSOnly\n            Effect: Deny", "      Bucket: !Sub \"${BucketNamePrefix}-state-${AWS::AccountId}-${AWS::Region}\"\n      PolicyDocument:\n        Version: \"2012-10-17\"\n        Statement:\n          - Sid: TLSOnly\n            Effect: Allow", "buckets"},
	{"env.json state bucket not a bucket name", "events/env.json", `"STATE_BUCKET": "hr-photo-state"`, `"STATE_BUCKET": "arn:aws:s3:::hr-photo-state"`, "envjson"},
	// cycles
	{"role refers to the bucket", "template.yaml", "                  - s3:PutObjectVersionTagging\n                Resource: !Sub \"arn:${AWS::Partition}:s3:::${BucketNamePrefix}-uploads-${AWS::AccountId}-${AWS::Region}/*\"", "                  - s3:PutObjectVersionTagging\n                Resource: !Sub \"${UploadBucket.Arn}/*\"", "cycles"},
	{"dependency cycle", "template.yaml", "  UploadQueue:\n    Type: AWS::SQS::Queue\n", "  UploadQueue:\n    Type: AWS::SQS::Queue\n    DependsOn: OnUploadFunction\n", "cycles"},
	// HTTP API
	{"no default authoriser", "template.yaml", "        DefaultAuthorizer: EntraJwt\n", "", "httpapi"},
	{"DELETE route too narrow", "template.yaml", `Method: DELETE, Path: "/{proxy+}"`, `Method: DELETE, Path: "/v1.0/{proxy+}"`, "httpapi"},
	{"route for a method the API refuses", "template.yaml", "        CreateUpload:", "        HeadPhoto: { Type: HttpApi, Properties: { ApiId: !Ref PhotoApi, Method: HEAD, Path: \"/{proxy+}\" } }\n        CreateUpload:", "httpapi"},
	{"upload route missing", "template.yaml", "        CreateUpload: { Type: HttpApi, Properties: { ApiId: !Ref PhotoApi, Method: POST, Path: \"/v1.0/uploads\" } }\n", "", "httpapi"},
	{"issuer of another cloud", "template.yaml", `    usgov: { Authority: "https://login.microsoftonline.us" }`, `    usgov: { Authority: "https://login.microsoftonline.com" }`, "httpapi"},
	{"v1 issuer", "template.yaml", `"${Authority}/${ApiTenantId}/v2.0"`, `"${Authority}/${ApiTenantId}/"`, "httpapi"},
	{"write to me without the scope at the gateway", "template.yaml", `Method: PUT, Path: "/v1.0/me/{proxy+}", Auth: { AuthorizationScopes: [!Ref ApiUserScope] } }`, `Method: PUT, Path: "/v1.0/me/{proxy+}" }`, "httpapi"},
	{"reads need the write scope", "template.yaml", `Method: GET, Path: "/{proxy+}" }`, `Method: GET, Path: "/{proxy+}", Auth: { AuthorizationScopes: [!Ref ApiUserScope] } }`, "httpapi"},
	{"app-only admins refused at the gateway", "template.yaml", `Method: PUT, Path: "/{proxy+}" }`, `Method: PUT, Path: "/{proxy+}", Auth: { AuthorizationScopes: [!Ref ApiUserScope] } }`, "httpapi"},
	{"a scope the function does not check", "template.yaml", `Method: PATCH, Path: "/me/{proxy+}", Auth: { AuthorizationScopes: [!Ref ApiUserScope] }`, `Method: PATCH, Path: "/me/{proxy+}", Auth: { AuthorizationScopes: [Photos.Upload] }`, "httpapi"},
	{"user scope not a parameter", "template.yaml", "        API_USER_SCOPE: !Ref ApiUserScope\n", "        API_USER_SCOPE: Photos.Write\n", "httpapi"},
	{"route skips the authoriser", "template.yaml", `Method: PATCH, Path: "/{proxy+}" }`, `Method: PATCH, Path: "/{proxy+}", Auth: { Authorizer: NONE } }`, "httpapi"},
	// uploads
	{"presigned uploads never expire", "template.yaml", "          - Id: expire-presigned-uploads\n            Status: Enabled\n            Prefix: !Ref UploadPrefix\n", "          - Id: expire-presigned-uploads\n            Status: Enabled\n            Prefix: incoming/\n", "uploads"},
	{"uploads may expire within a day", "template.yaml", "    Default: 14\n    MinValue: 1\n", "    Default: 14\n    MinValue: 0\n", "uploads"},
	{"expired uploads kept as old versions", "template.yaml", "            ExpirationInDays: !Ref UploadExpirationDays\n            NoncurrentVersionExpiration: { NoncurrentDays: 1 }\n", "            ExpirationInDays: !Ref UploadExpirationDays\n", "uploads"},
	// backfills, outputs, env.json
	{"Batch Operations cannot assume the role", "template.yaml", "Principal: { Service: batchoperations.s3.amazonaws.com }", "Principal: { Service: s3.amazonaws.com }", "batch"},
	{"Batch Operations may invoke anything", "template.yaml", "                Action: lambda:InvokeFunction\n                Resource: !GetAtt OnUploadFunction.Arn", "                Action: lambda:InvokeFunction\n                Resource: \"*\"", "batch"},
	{"no DLQ output", "template.yaml", "  UploadDeadLetterQueueUrl:\n    Description: Messages that failed five times; inspect, then redrive\n    Value: !Ref UploadDeadLetterQueue\n", "", "outputs"},
	// alarms: every metric read is one the code or AWS writes; the alarms an operator needs exist
	{"misspelt metric in an alarm", "template.yaml", "              MetricName: PhotosFailed\n              Dimensions: [{ Name: FunctionName, Value: !Ref ApiFunction }]", "              MetricName: PhotoFailed\n              Dimensions: [{ Name: FunctionName, Value: !Ref ApiFunction }]", "alarms"},
	{"alarm in another namespace", "template.yaml", "              Namespace: GraphPhoto\n              MetricName: PhotosFailed\n              Dimensions: [{ Name: FunctionName, Value: !Ref OnUploadFunction }]", "              Namespace: GraphPhotos\n              MetricName: PhotosFailed\n              Dimensions: [{ Name: FunctionName, Value: !Ref OnUploadFunction }]", "alarms"},
	{"dimension the code does not write", "template.yaml", "Dimensions: [{ Name: FunctionName, Value: !Ref OnUploadFunction }]\n            Period: !Ref PhotosFailedPeriod", "Dimensions: [{ Name: Function, Value: !Ref OnUploadFunction }]\n            Period: !Ref PhotosFailedPeriod", "alarms"},
	{"misspelt AWS metric", "template.yaml", "MetricName: ApproximateAgeOfOldestMessage", "MetricName: ApproximateAgeOfOldestMessages", "alarms"},
	{"queue age read on the DLQ", "template.yaml", "Value: !GetAtt UploadQueue.QueueName }]", "Value: !GetAtt UploadDeadLetterQueue.QueueName }]", "alarms"},
	{"no alarm on dead letters", "template.yaml", "MetricName: ApproximateNumberOfMessagesVisible", "MetricName: NumberOfMessagesSent", "alarms"},
	{"API throttles not watched", "template.yaml", "      MetricName: Throttles\n      Dimensions: [{ Name: FunctionName, Value: !Ref ApiFunction }]", "      MetricName: Throttles\n      Dimensions: [{ Name: FunctionName, Value: !Ref OnUploadFunction }]", "alarms"},
	{"5xx without the request count", "template.yaml", "              MetricName: Count", "              MetricName: 4xx", "alarms"},
	{"PhotosFailed threshold fixed", "template.yaml", "      Threshold: !Ref PhotosFailedThreshold", "      Threshold: 5", "alarms"},
	{"alarm notifies an empty topic", "template.yaml", "      TreatMissingData: notBreaching\n      AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]\n      OKActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]\n\n  QueueAgeAlarm:", "      TreatMissingData: notBreaching\n      AlarmActions: [!Ref AlarmTopicArn]\n      OKActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]\n\n  QueueAgeAlarm:", "alarms"},
	{"misspelt alarm property", "template.yaml", "          Expression: FILL(onupload, 0) + FILL(api, 0)", "          Expresion: FILL(onupload, 0) + FILL(api, 0)", "alarms"},
	// dashboard
	{"misspelt metric on the dashboard", "template.yaml", `["GraphPhoto", "PhotosSkipped", "FunctionName", "${ApiFunction}"`, `["GraphPhoto", "PhotoSkipped", "FunctionName", "${ApiFunction}"`, "dashboard"},
	{"misspelt unchanged metric", "template.yaml", `["GraphPhoto", "PhotosUnchanged", "FunctionName", "${ApiFunction}"`, `["GraphPhoto", "PhotoUnchanged", "FunctionName", "${ApiFunction}"`, "dashboard"},
	{"unchanged photos not shown", "template.yaml", "                [\"GraphPhoto\", \"PhotosUnchanged\", \"FunctionName\", \"${OnUploadFunction}\", {\"label\": \"unchanged (not written)\"}],\n", "", "dashboard"},
	{"metric of a resource whose code does not write it", "template.yaml", `["GraphPhoto", "PhotosSkipped", "FunctionName", "${OnUploadFunction}"`, `["GraphPhoto", "PhotosSkipped", "FunctionName", "${BatchOperationsRole}"`, "dashboard"},
	{"no p99 of the API's Graph time", "template.yaml", `["GraphPhoto", "GraphMs", "FunctionName", "${ApiFunction}", {"stat": "p99"`, `["GraphPhoto", "GraphMs", "FunctionName", "${ApiFunction}", {"stat": "p90"`, "dashboard"},
	{"shorthand the check cannot read", "template.yaml", `["GraphPhoto", "PhotosRejected", "FunctionName", "${ApiFunction}"`, `[".", "PhotosRejected", ".", "."`, "dashboard"},
	{"DLQ depth not shown", "template.yaml", `"${UploadDeadLetterQueue.QueueName}", {"label": "dead letters"}`, `"${UploadQueue.QueueName}", {"label": "dead letters"}`, "dashboard"},
	{"dashboard body not JSON", "template.yaml", `"widgets": [`, `"widgets": [,`, "dashboard"},
	{"widget in a fixed region", "template.yaml", `"title": "Dead-letter queue: messages", "region": "${AWS::Region}"`, `"title": "Dead-letter queue: messages", "region": "eu-west-1"`, "dashboard"},
	{"no DLQ ARN output", "template.yaml", "    Value: !GetAtt UploadDeadLetterQueue.Arn\n", "    Value: !Ref UploadDeadLetterQueue\n", "outputs"},
	{"env.json sets an undeclared variable", "events/env.json", `"TARGET_KEY_PREFIX": "photos/"`, `"TARGET_KEY_PREFIX": "photos/", "GRAPH_ENDPOINTS": "https://x"`, "envjson"},
	{"env.json value config refuses", "events/env.json", `"LOG_LEVEL": "debug"`, `"LOG_LEVEL": "loud"`, "envjson"},
	{"env.json misses a function", "events/env.json", `  "ApiFunction": {`, `  "ApiFunctionX": {`, "envjson"},
}

func TestChecksCatchBreakage(t *testing.T) {
	root := repoRoot(t)
	original := readProjectFiles(t, root)
	byName := map[string]func(*project) []error{}
	for _, c := range checks {
		byName[c.name] = c.fn
	}
	covered := map[string]bool{}
	for _, m := range mutations {
		covered[m.check] = true
		t.Run(m.name, func(t *testing.T) {
			fn, ok := byName[m.check]
			if !ok {
				t.Fatalf("no check %q", m.check)
			}
			text := string(original[m.file])
			if n := strings.Count(text, m.old); n != 1 {
				t.Fatalf("%s: the text to break occurs %d times, want once: %q", m.file, n, m.old)
			}
			files := map[string][]byte{}
			for k, v := range original {
				files[k] = v
			}
			files[m.file] = []byte(strings.Replace(text, m.old, m.new, 1))
			p, err := loadProject(root, files)
			if err != nil {
				t.Fatalf("the broken copy does not load: %v", err)
			}
			problems := fn(p)
			if len(problems) == 0 {
				t.Fatalf("check %s passes on the broken copy", m.check)
			}
			t.Logf("check %s: %v", m.check, problems[0])
		})
	}
	for _, c := range checks {
		if !covered[c.name] {
			t.Errorf("no mutation shows check %s can fail", c.name)
		}
	}
}
