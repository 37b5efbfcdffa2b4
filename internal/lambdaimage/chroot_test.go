package lambdaimage

import (
	"os"
	"slices"
	"strconv"
	"testing"
)

func TestParseMountinfo(t *testing.T) {
	info := []byte(`22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
41 22 254:0 /root/.cache/graphphoto/rootfs-amd64-0123 /root/.cache/graphphoto/run-77/root ro,relatime - ext4 /dev/vda rw
42 41 0:38 / /root/.cache/graphphoto/run-77/root/tmp rw,relatime - tmpfs tmpfs rw
43 22 0:39 / /mnt/with\040space\134x rw - tmpfs tmpfs rw
short line
`)
	got := parseMountinfo(info)
	want := []string{"/", "/root/.cache/graphphoto/run-77/root", "/root/.cache/graphphoto/run-77/root/tmp", `/mnt/with space\x`}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestOwnerPID(t *testing.T) {
	for rel, want := range map[string]int{
		"run-77/root/tmp":                  77,
		"rootfs-amd64-0123.partial-9/proc": 9,
		"rootfs-amd64-0123/proc":           0,
		"rootfs-amd64-0123.lock":           0,
		"run-x":                            0,
		"sharp":                            0,
	} {
		got, ok := ownerPID(rel)
		if got != want || ok != (want != 0) {
			t.Errorf("ownerPID(%q) = %d %v, want %d", rel, got, ok, want)
		}
	}
	if !alive(os.Getpid()) {
		t.Error("this process is not alive")
	}
}

// TestCleanStaleMountsRemovesDeadRunsOnly: the folders of a dead run (nothing mounted) go; a
// live run's, a finished root's and other files stay.
func TestCleanStaleMountsRemovesDeadRunsOnly(t *testing.T) {
	dir := t.TempDir()
	dead := deadPID(t)
	for _, d := range []string{"run-" + strconv.Itoa(dead) + "/root", "rootfs-amd64-k.partial-" + strconv.Itoa(dead), "run-" + strconv.Itoa(os.Getpid()) + "/root", "rootfs-amd64-k", "sharp"} {
		if err := os.MkdirAll(dir+"/"+d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := CleanStaleMounts(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{"rootfs-amd64-k", "run-" + strconv.Itoa(os.Getpid()), "sharp"}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

// deadPID is the id of a process that has exited.
func deadPID(t *testing.T) int {
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}
