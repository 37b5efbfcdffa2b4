package lambdaimage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Chroot is a root filesystem mounted for running programs in it, as Lambda runs an image: the
// root read-only, an empty writable /tmp, /proc, a /dev with only the usual character devices,
// and the bootstraps' folder at /var/task. Close unmounts everything, also after a failure.
type Chroot struct {
	// Dir is the mounted root as this machine sees it; a program started with
	// SysProcAttr.Chroot = Dir sees it as /.
	Dir    string
	runDir string
	mounts []string // mount points, in the order mounted
}

// runPrefix names the folders (under the cache) that hold a run's mount points; the suffix is
// the process id, so that a later run can tell a dead run's leftovers from a live run's.
const runPrefix = "run-"

// OpenChroot mounts root under a fresh folder of cacheDir. task, when not empty, is a folder
// of this machine bound read-only at TaskRoot.
func OpenChroot(cacheDir, root, task string) (_ *Chroot, err error) {
	if err := CleanStaleMounts(cacheDir); err != nil {
		return nil, err
	}
	runDir := filepath.Join(cacheDir, runPrefix+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(filepath.Join(runDir, "root"), 0o755); err != nil {
		return nil, fmt.Errorf("chroot: %w", err)
	}
	c := &Chroot{Dir: filepath.Join(runDir, "root"), runDir: runDir}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close())
		}
	}()
	if err := c.bindReadOnly(root, c.Dir); err != nil {
		return c, err
	}
	// Lambda's /tmp: the only writable place. The emulator and the tests' helpers go there too.
	if err := c.mount("tmpfs", filepath.Join(c.Dir, "tmp"), "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777,size=512m"); err != nil {
		return c, err
	}
	if err := c.mount("proc", filepath.Join(c.Dir, "proc"), "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return c, err
	}
	if err := c.minimalDev(filepath.Join(c.Dir, "dev")); err != nil {
		return c, err
	}
	if task != "" {
		if err := c.bindReadOnly(task, filepath.Join(c.Dir, TaskRoot)); err != nil {
			return c, err
		}
	}
	return c, nil
}

// mountForInstall makes a root filesystem usable by apt and dpkg in a chroot: /proc, and this
// machine's /dev bound in. The caller closes it before the root is used for anything else.
func mountForInstall(root string) (_ *Chroot, err error) {
	c := &Chroot{Dir: root}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close())
		}
	}()
	if err := c.mount("proc", filepath.Join(root, "proc"), "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return c, err
	}
	if err := c.mount("/dev", filepath.Join(root, "dev"), "", syscall.MS_BIND, ""); err != nil {
		return c, err
	}
	return c, nil
}

func (c *Chroot) mount(src, target, fstype string, flags uintptr, data string) error {
	if err := syscall.Mount(src, target, fstype, flags, data); err != nil {
		return fmt.Errorf("chroot: mount %s on %s: %w", src, target, err)
	}
	c.mounts = append(c.mounts, target)
	return nil
}

// bindReadOnly binds src at target and makes that mount read-only (two steps: a bind mount
// takes no flags of its own).
func (c *Chroot) bindReadOnly(src, target string) error {
	if err := c.mount(src, target, "", syscall.MS_BIND, ""); err != nil {
		return err
	}
	if err := syscall.Mount("", target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY|syscall.MS_NOSUID, ""); err != nil {
		return fmt.Errorf("chroot: make %s read-only: %w", target, err)
	}
	return nil
}

// minimalDev mounts a tmpfs at dir with the character devices every process expects (null,
// zero, full, random, urandom, tty) and the fd links, as a container runtime would.
func (c *Chroot) minimalDev(dir string) error {
	if err := c.mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NOEXEC, "mode=755,size=64k"); err != nil {
		return err
	}
	for _, d := range []struct {
		name         string
		major, minor int
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}} {
		p := filepath.Join(dir, d.name)
		if err := syscall.Mknod(p, syscall.S_IFCHR|0o666, d.major<<8|d.minor); err != nil {
			return fmt.Errorf("chroot: mknod %s: %w", p, err)
		}
		if err := os.Chmod(p, 0o666); err != nil { // mknod applies the umask
			return fmt.Errorf("chroot: %w", err)
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
	}
	return os.Mkdir(filepath.Join(dir, "shm"), 0o1777)
}

// Close unmounts what was mounted, last first, and removes the run's folder. A mount that is
// still busy is detached (it goes once the last process using it exits), never left behind.
func (c *Chroot) Close() error {
	var errs []error
	for i := len(c.mounts) - 1; i >= 0; i-- {
		if err := unmount(c.mounts[i]); err != nil {
			errs = append(errs, err)
		}
	}
	c.mounts = nil
	if c.runDir != "" && len(errs) == 0 {
		if err := os.RemoveAll(c.runDir); err != nil {
			errs = append(errs, fmt.Errorf("chroot: %w", err))
		}
	}
	return errors.Join(errs...)
}

func unmount(target string) error {
	err := syscall.Unmount(target, 0)
	if errors.Is(err, syscall.EBUSY) {
		err = syscall.Unmount(target, syscall.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, syscall.EINVAL) { // EINVAL: not a mount point (any more)
		return fmt.Errorf("chroot: unmount %s: %w", target, err)
	}
	return nil
}

// Put copies a file of this machine to path inside the chroot (under /tmp, the writable part).
func (c *Chroot) Put(src, path string, mode os.FileMode) error {
	if !strings.HasPrefix(path, "/tmp/") {
		return fmt.Errorf("chroot: %s is outside /tmp, the only writable folder", path)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	defer in.Close()
	dst := filepath.Join(c.Dir, path)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("chroot: copy %s: %w", src, err)
	}
	return out.Close()
}

// Command is a program run inside the chroot (path and working folder as seen from inside),
// with only the environment given (and the image's PATH when env sets none).
func (c *Chroot) Command(ctx context.Context, env []string, name string, args ...string) *exec.Cmd {
	return chrootCommand(ctx, c.Dir, env, name, args...)
}

func chrootCommand(ctx context.Context, root string, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = "/"
	hasPath := false
	for _, kv := range env {
		hasPath = hasPath || strings.HasPrefix(kv, "PATH=")
	}
	if !hasPath {
		env = append([]string{"PATH=" + DebianPath}, env...)
	}
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// CleanStaleMounts unmounts what a run that died without closing its chroot (killed, say) left
// mounted under cacheDir, and removes its folders. Live runs' mounts are left alone.
func CleanStaleMounts(cacheDir string) error {
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	prefix := filepath.Clean(cacheDir) + string(filepath.Separator)
	var stale []string
	for _, m := range parseMountinfo(info) {
		rest, ok := strings.CutPrefix(m, prefix)
		if !ok {
			continue
		}
		if pid, ok := ownerPID(rest); ok && !alive(pid) {
			stale = append(stale, m)
		}
	}
	// Deepest first, so that /tmp and /proc go before the root they sit on.
	sort.Slice(stale, func(i, j int) bool { return strings.Count(stale[i], "/") > strings.Count(stale[j], "/") })
	var errs []error
	for _, m := range stale {
		if err := unmount(m); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	entries, _ := os.ReadDir(cacheDir)
	for _, e := range entries {
		if pid, ok := ownerPID(e.Name()); ok && !alive(pid) {
			if err := os.RemoveAll(filepath.Join(cacheDir, e.Name())); err != nil {
				errs = append(errs, fmt.Errorf("chroot: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// ownerPID reads the process id from the first element of a path under the cache: a run's
// folder (run-PID) or a root filesystem being built (rootfs-KEY.partial-PID).
func ownerPID(rel string) (int, bool) {
	first, _, _ := strings.Cut(rel, string(filepath.Separator))
	var digits string
	switch {
	case strings.HasPrefix(first, runPrefix):
		digits = strings.TrimPrefix(first, runPrefix)
	case strings.Contains(first, partialInfix):
		_, digits, _ = strings.Cut(first, partialInfix)
	default:
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	return pid, err == nil && pid > 0
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// parseMountinfo returns the mount points of a /proc/PID/mountinfo text, unescaped.
func parseMountinfo(b []byte) []string {
	var out []string
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) < 5 {
			continue
		}
		out = append(out, unescapeOctal(f[4]))
	}
	return out
}

// unescapeOctal undoes the kernel's \ooo escapes of space, tab, newline and backslash.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
