package deploy

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCfnLint runs AWS's CloudFormation linter, which applies the SAM transform with AWS's own
// translator and checks the result against the resource specification: property names and
// types, enum values, and the transform's own validation, none of which the checks above
// re-implement. The linter is a Python tool; where it is not installed the test says so and
// skips.
func TestCfnLint(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint is not installed (pip install cfn-lint): the template was not linted")
	}
	if testing.Short() {
		t.Skip("cfn-lint takes seconds; skipped with -short")
	}
	out, err := exec.Command(lint, filepath.Join(repoRoot(t), "template.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint template.yaml: %v\n%s", err, out)
	}
}
