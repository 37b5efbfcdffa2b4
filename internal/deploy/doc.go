// Package deploy holds the tests that keep the deployment (template.yaml, Dockerfile,
// .dockerignore, image/packages.txt, events/env.json at the repository root) true to the code:
// the functions' commands are the bootstraps the image builds, the Dockerfile builds the image
// internal/lambdaimage assembles and tests (same Debian release, package list, install script,
// flags and layout), every variable internal/config reads is declared with a value
// config.Load accepts, IAM stays least-privilege, the S3 → SQS → onupload wiring is complete and
// acyclic, and the HTTP API routes are the ones internal/api serves. It has no code of its own
// beyond the tests; see README "Deploy".
package deploy
