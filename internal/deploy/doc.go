// Package deploy holds the tests that keep the deployment (template.yaml, Dockerfile,
// .dockerignore, image/packages.txt, events/env.json at the repository root) true to the code:
// the functions' commands are the bootstraps the image builds, the Dockerfile builds the image
// internal/lambdaimage assembles and tests (same Debian release, package list, install script,
// flags and layout), every variable internal/config reads is declared with a value
// config.Load accepts, IAM stays least-privilege, the S3 → SQS → onupload wiring is complete and
// acyclic, the HTTP API routes are the ones internal/api serves, and every metric an alarm or
// the dashboard reads is one the code (read from its Go source) or AWS writes. It has no code
// of its own beyond the tests; see README "Deploy".
package deploy
