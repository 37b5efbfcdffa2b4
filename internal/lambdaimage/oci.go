package lambdaimage

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ArchiveSpec is what goes into an image archive.
type ArchiveSpec struct {
	Root       string            // the root filesystem (EnsureRoot)
	Bootstraps map[string]string // image path → file on this machine (BuildBootstraps)
	Arch       string            // Debian architecture of Root (amd64, arm64)
	Config     Config            // ImageConfig()
	RefName    string            // the layout's org.opencontainers.image.ref.name (a tag, e.g. "latest")
}

// Archive describes a written image archive.
type Archive struct {
	Path         string
	Digest       string // the image manifest's digest
	Layers       int
	Compressed   int64 // bytes of the layers as stored and pushed
	Uncompressed int64 // bytes of the layers' tar streams
}

// ociArch maps Debian's architecture names to the OCI platform's.
func ociArch(debian string) string {
	switch debian {
	case "i386":
		return "386"
	case "armhf":
		return "arm"
	}
	return debian
}

// WriteArchive writes an OCI image archive to out: a tar of an OCI image layout (what skopeo
// calls oci-archive) holding one image of two layers, the root filesystem and the bootstraps,
// with spec.Config as its run configuration. No container engine is involved.
func WriteArchive(ctx context.Context, spec ArchiveSpec, out string) (*Archive, error) {
	work, err := os.MkdirTemp(filepath.Dir(out), ".lambdaimage-")
	if err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	defer os.RemoveAll(work)

	rootLayer := filepath.Join(work, "rootfs.tar.gz")
	if err := writeLayer(ctx, rootLayer, func(tw *tar.Writer) error { return tarTree(ctx, tw, spec.Root) }); err != nil {
		return nil, err
	}
	taskLayer := filepath.Join(work, "task.tar.gz")
	if err := writeLayer(ctx, taskLayer, func(tw *tar.Writer) error { return tarFiles(tw, spec.Bootstraps) }); err != nil {
		return nil, err
	}
	var adds []mutate.Addendum
	for _, l := range []struct{ file, history string }{
		{rootLayer, fmt.Sprintf("debootstrap --variant=minbase %s; sh %s %s", Suite, InstallScript, PackagesFile)},
		{taskLayer, "the bootstraps (" + strings.Join(sortedKeys(spec.Bootstraps), ", ") + ")"},
	} {
		layer, err := tarball.LayerFromFile(l.file, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return nil, fmt.Errorf("image archive: %w", err)
		}
		adds = append(adds, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: l.history, Created: v1.Time{Time: time.Now().UTC()}}})
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", ociArch(spec.Arch)
	cf.Created = v1.Time{Time: time.Now().UTC()}
	cf.Config.Entrypoint = spec.Config.Entrypoint
	cf.Config.Cmd = spec.Config.Cmd
	cf.Config.WorkingDir = spec.Config.WorkingDir
	cf.Config.Env = spec.Config.Env
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}

	dir := filepath.Join(work, "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	var opts []layout.Option
	if spec.RefName != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": spec.RefName}))
	}
	if err := p.AppendImage(img, opts...); err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	tmpOut := out + ".partial"
	if err := tarLayout(ctx, dir, tmpOut); err != nil {
		os.Remove(tmpOut)
		return nil, err
	}
	if err := os.Rename(tmpOut, out); err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	a := &Archive{Path: out, Layers: len(adds)}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	a.Digest = digest.String()
	for _, f := range []string{rootLayer, taskLayer} {
		st, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("image archive: %w", err)
		}
		a.Compressed += st.Size()
		n, err := gunzipSize(f)
		if err != nil {
			return nil, err
		}
		a.Uncompressed += n
	}
	return a, nil
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// writeLayer writes a gzip-compressed tar stream to file.
func writeLayer(ctx context.Context, file string, fill func(*tar.Writer) error) error {
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("image layer: %w", err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	if err := fill(tw); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := errors.Join(tw.Close(), zw.Close()); err != nil {
		return fmt.Errorf("image layer: %w", err)
	}
	return f.Close()
}

// emptied are the folders whose contents never go into the image: the kernel's and the
// runtime's (/proc, /sys, /dev) and /tmp. The folders themselves do.
var emptied = map[string]bool{"proc": true, "sys": true, "dev": true, "tmp": true}

// tarTree writes the tree under root as a layer: numeric owners only (the names this machine
// would give them mean nothing in the image), hard links kept, in lexical order.
func tarTree(ctx context.Context, tw *tar.Writer, root string) error {
	links := map[[2]uint64]string{}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("image layer: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if dir, _, nested := strings.Cut(rel, "/"); nested && emptied[dir] {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("image layer: %w", err)
		}
		var target string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if target, err = os.Readlink(p); err != nil {
				return fmt.Errorf("image layer: %w", err)
			}
		}
		if fi.Mode()&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeSocket|fs.ModeNamedPipe) != 0 {
			return fmt.Errorf("image layer: %s is a device, socket or pipe; a root filesystem for an image has none outside /dev", rel)
		}
		hdr, err := tar.FileInfoHeader(fi, target)
		if err != nil {
			return fmt.Errorf("image layer: %s: %w", rel, err)
		}
		hdr.Name = rel
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			if fi.Mode().IsRegular() && st.Nlink > 1 {
				k := [2]uint64{uint64(st.Dev), st.Ino}
				if first, ok := links[k]; ok {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					links[k] = rel
				}
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("image layer: %s: %w", rel, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			return copyFile(tw, p)
		}
		return nil
	})
}

// tarFiles writes files of this machine at their image paths, with their parent folders.
func tarFiles(tw *tar.Writer, files map[string]string) error {
	dirs := map[string]bool{}
	for _, dst := range sortedKeys(files) {
		var parents []string
		for d := path.Dir(dst); d != "/" && !dirs[d]; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
			dirs[d] = true
		}
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: time.Now()}); err != nil {
				return fmt.Errorf("image layer: %w", err)
			}
		}
		fi, err := os.Stat(files[dst])
		if err != nil {
			return fmt.Errorf("image layer: %w", err)
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(dst, "/"), Mode: 0o755, Size: fi.Size(), ModTime: fi.ModTime()}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("image layer: %w", err)
		}
		if err := copyFile(tw, files[dst]); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("image layer: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("image layer: %s: %w", p, err)
	}
	return nil
}

// tarLayout writes the OCI layout folder as one uncompressed tar (its blobs are compressed
// already).
func tarLayout(ctx context.Context, dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("image archive: %w", err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tarTree(ctx, tw, dir); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("image archive: %w", err)
	}
	return f.Close()
}

func gunzipSize(file string) (int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, fmt.Errorf("image layer: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return 0, fmt.Errorf("image layer: %w", err)
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil {
		return 0, fmt.Errorf("image layer: %w", err)
	}
	return n, nil
}
