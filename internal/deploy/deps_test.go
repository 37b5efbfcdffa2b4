package deploy

import (
	"os/exec"
	"path"
	"strings"
	"testing"
)

// testCode names the packages of deps that are test code or test support: the standard
// library's testing packages, and any package named …test (httptest, graphtest, s3test,
// imageproctest, …), which is where this module keeps its test support. The standard library's
// own internal packages (internal/synctest, which sync links) are the runtime's, not tests'.
func testCode(deps []string) []string {
	var bad []string
	for _, p := range deps {
		std := !strings.Contains(strings.SplitN(p, "/", 2)[0], ".")
		if std && (strings.HasPrefix(p, "internal/") || strings.Contains(p, "/internal/") || strings.HasPrefix(p, "vendor/")) {
			continue
		}
		if p == "testing" || strings.HasPrefix(p, "testing/") || strings.HasSuffix(path.Base(p), "test") {
			bad = append(bad, p)
		}
	}
	return bad
}

// TestBootstrapsCarryNoTestCode: what the Lambda bootstraps link (go list -deps
// ./functions/...) holds no testing package and no test-support package, so no emulator, fake,
// test image or test helper ships in the image.
func TestBootstrapsCarryNoTestCode(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./functions/...")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./functions/...: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 || !strings.Contains(string(out), "github.com/graphphoto/graphphoto/internal/photo\n") {
		t.Fatalf("go list gave %d packages, without internal/photo: %s", len(deps), out)
	}
	for _, p := range testCode(deps) {
		t.Errorf("the bootstraps link %s", p)
	}
	// The check itself sees each kind.
	if got := testCode([]string{"testing", "testing/iotest", "net/http/httptest", "github.com/graphphoto/graphphoto/internal/s3test", "net/http",
		"github.com/graphphoto/graphphoto/internal/photo", "internal/synctest"}); len(got) != 4 {
		t.Errorf("testCode found %v, want the four test packages", got)
	}
}
