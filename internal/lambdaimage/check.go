package lambdaimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Expect is what CheckArchive holds an archive to.
type Expect struct {
	Arch     string   // Debian architecture
	Config   Config   // ImageConfig()
	Packages []string // the package list: each must be installed
}

// ArchiveReport is what CheckArchive read from an archive.
type ArchiveReport struct {
	Layers       []string // media types, in order
	Config       Config
	Arch         string
	Files        int               // paths in the image (all layers applied)
	Packages     map[string]string // installed Debian packages and their versions
	Modules      []string          // libvips modules shipped
	Compressed   int64
	Uncompressed int64
}

// compilerFiles are paths that only a toolchain installs.
var compilerFiles = regexp.MustCompile(`^(usr/(local/)?bin/(cc|c\+\+|gcc|g\+\+|cpp|clang|ld|ld\.bfd|ld\.gold|as|go|gofmt)(-[0-9.]+)?|usr/(bin|lib)/(x86_64|aarch64)-linux-gnu-(gcc|g\+\+|ld|as)(-[0-9.]+)?|usr/lib/gcc/[^/]+/[^/]+/cc1(plus)?|usr/local/go/bin/go)$`)

var vipsModule = regexp.MustCompile(`^usr/lib/[^/]+/(vips-modules-[0-9.]+/[^/]+\.so)$`)

// CheckArchive opens an OCI image archive (WriteArchive's) and checks it against want: one
// image of at least two gzip layers whose digests and sizes match the manifest; the run
// configuration (entry point, command, working folder, environment, architecture); both
// bootstraps at their paths as executable ELF files; every listed package installed and no -dev
// package, compiler or toolchain file; libvips' HEIF module and no other; the CA roots; no header
// files. It returns every problem at once.
func CheckArchive(file string, want Expect) (*ArchiveReport, error) {
	lt, err := readLayoutTar(file)
	if err != nil {
		return nil, err
	}
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }

	var idx struct {
		Manifests []descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(lt.index, &idx); err != nil {
		return nil, fmt.Errorf("image archive: index.json: %w", err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].MediaType != "application/vnd.oci.image.manifest.v1+json" {
		return nil, fmt.Errorf("image archive: index.json lists %v, want one OCI image manifest", idx.Manifests)
	}
	manifestBytes, err := lt.blob(idx.Manifests[0])
	if err != nil {
		return nil, err
	}
	var manifest struct {
		Config descriptor   `json:"config"`
		Layers []descriptor `json:"layers"`
	}
	if err := json.Unmarshal(manifestBytes, &manifest); err != nil {
		return nil, fmt.Errorf("image archive: manifest: %w", err)
	}
	configBytes, err := lt.blob(manifest.Config)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Config       struct {
			Entrypoint []string `json:"Entrypoint"`
			Cmd        []string `json:"Cmd"`
			WorkingDir string   `json:"WorkingDir"`
			Env        []string `json:"Env"`
		} `json:"config"`
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(configBytes, &cfg); err != nil {
		return nil, fmt.Errorf("image archive: config: %w", err)
	}
	r := &ArchiveReport{Arch: cfg.Architecture, Packages: map[string]string{}}
	r.Config = Config{Entrypoint: cfg.Config.Entrypoint, Cmd: cfg.Config.Cmd, WorkingDir: cfg.Config.WorkingDir, Env: cfg.Config.Env}
	if cfg.OS != "linux" || cfg.Architecture != ociArch(want.Arch) {
		bad("platform %s/%s, want linux/%s", cfg.OS, cfg.Architecture, ociArch(want.Arch))
	}
	if !slices.Equal(r.Config.Entrypoint, want.Config.Entrypoint) {
		bad("entry point %q, want %q", r.Config.Entrypoint, want.Config.Entrypoint)
	}
	if !slices.Equal(r.Config.Cmd, want.Config.Cmd) {
		bad("command %q, want %q", r.Config.Cmd, want.Config.Cmd)
	}
	if r.Config.WorkingDir != want.Config.WorkingDir {
		bad("working folder %q, want %q", r.Config.WorkingDir, want.Config.WorkingDir)
	}
	if got, exp := sortedCopy(r.Config.Env), sortedCopy(want.Config.Env); !slices.Equal(got, exp) {
		bad("environment %q, want %q", got, exp)
	}
	if len(manifest.Layers) < 2 || len(manifest.Layers) != len(cfg.RootFS.DiffIDs) {
		bad("%d layers and %d diff ids, want the root filesystem and the bootstraps (2 or more, one diff id each)", len(manifest.Layers), len(cfg.RootFS.DiffIDs))
	}

	// Apply the layers in order into one view of the image's files.
	files := map[string]*imageFile{}
	for i, l := range manifest.Layers {
		r.Layers = append(r.Layers, l.MediaType)
		if l.MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
			bad("layer %d is %s, want application/vnd.oci.image.layer.v1.tar+gzip", i, l.MediaType)
			continue
		}
		data, err := lt.blob(l)
		if err != nil {
			return nil, err
		}
		r.Compressed += int64(len(data))
		diffID, n, err := applyLayer(data, files)
		if err != nil {
			return nil, fmt.Errorf("image archive: layer %d: %w", i, err)
		}
		r.Uncompressed += n
		if i < len(cfg.RootFS.DiffIDs) && cfg.RootFS.DiffIDs[i] != diffID {
			bad("layer %d's uncompressed digest %s is not the config's diff id %s", i, diffID, cfg.RootFS.DiffIDs[i])
		}
	}
	r.Files = len(files)

	for _, b := range Bootstraps() {
		f := files[strings.TrimPrefix(b.Path, "/")]
		switch {
		case f == nil:
			bad("bootstrap %s missing", b.Path)
		case !f.regular || f.mode&0o111 == 0:
			bad("bootstrap %s is not an executable file (mode %o)", b.Path, f.mode)
		case !bytes.HasPrefix(f.head, []byte("\x7fELF")):
			bad("bootstrap %s is not an ELF binary", b.Path)
		}
	}
	if status := files["var/lib/dpkg/status"]; status == nil {
		bad("no dpkg status: not a Debian root filesystem")
	} else {
		r.Packages = InstalledPackages(status.data)
	}
	for _, p := range want.Packages {
		if _, ok := r.Packages[p]; !ok {
			bad("package %s (in the list) is not installed", p)
		}
	}
	for _, p := range sortedKeys(r.Packages) {
		if why := Forbidden(p); why != "" {
			bad("package %s is installed: %s", p, why)
		}
	}
	var headers int
	for _, name := range sortedKeys2(files) {
		if compilerFiles.MatchString(name) {
			bad("%s is in the image: no compiler or toolchain may be", name)
		}
		if strings.HasPrefix(name, "usr/include/") && strings.HasSuffix(name, ".h") {
			headers++
		}
		if m := vipsModule.FindStringSubmatch(name); m != nil {
			r.Modules = append(r.Modules, m[1])
		}
	}
	if headers > 0 {
		bad("%d C header files under /usr/include: build material has no place in the runtime image", headers)
	}
	if len(r.Modules) != 1 || path.Base(r.Modules[0]) != "vips-heif.so" {
		bad("libvips modules %v, want the HEIF module (vips-heif.so) only", r.Modules)
	}
	if f := files["etc/ssl/certs/ca-certificates.crt"]; f == nil || f.size == 0 {
		bad("no CA roots at /etc/ssl/certs/ca-certificates.crt: Go could not verify Graph's, Entra ID's or AWS's certificates")
	}
	return r, errors.Join(problems...)
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func sortedKeys2(m map[string]*imageFile) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// layoutTar is an OCI layout tar: its index and where each blob is.
type layoutTar struct {
	file  string
	index []byte
	blobs map[string]string // digest → path in the tar
}

// readLayoutTar reads an OCI layout tar's index.json and the names of its blobs.
func readLayoutTar(file string) (*layoutTar, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	defer f.Close()
	lt := &layoutTar{file: file, blobs: map[string]string{}}
	var marker []byte
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("image archive: %w", err)
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		switch {
		case name == "index.json":
			lt.index, err = io.ReadAll(io.LimitReader(tr, 1<<20))
		case name == "oci-layout":
			marker, err = io.ReadAll(io.LimitReader(tr, 1<<10))
		case strings.HasPrefix(name, "blobs/") && h.Typeflag == tar.TypeReg:
			if parts := strings.Split(name, "/"); len(parts) == 3 {
				lt.blobs[parts[1]+":"+parts[2]] = name
			}
		}
		if err != nil {
			return nil, fmt.Errorf("image archive: %s: %w", name, err)
		}
	}
	if !bytes.Contains(marker, []byte(`"imageLayoutVersion"`)) {
		return nil, fmt.Errorf("image archive: %s is not an OCI image layout (no oci-layout file)", file)
	}
	if lt.index == nil {
		return nil, fmt.Errorf("image archive: no index.json")
	}
	return lt, nil
}

// blob reads one blob of the archive and checks its size and digest.
func (lt *layoutTar) blob(d descriptor) ([]byte, error) {
	name, ok := lt.blobs[d.Digest]
	if !ok {
		return nil, fmt.Errorf("image archive: blob %s (%s) missing", d.Digest, d.MediaType)
	}
	f, err := os.Open(lt.file)
	if err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("image archive: blob %s: %w", d.Digest, err)
		}
		if strings.TrimPrefix(path.Clean(h.Name), "./") != name {
			continue
		}
		if h.Size != d.Size {
			return nil, fmt.Errorf("image archive: blob %s is %d bytes, its descriptor says %d", d.Digest, h.Size, d.Size)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("image archive: blob %s: %w", d.Digest, err)
		}
		sum := sha256.Sum256(b)
		if got := "sha256:" + hex.EncodeToString(sum[:]); got != d.Digest {
			return nil, fmt.Errorf("image archive: blob %s has digest %s", d.Digest, got)
		}
		return b, nil
	}
}

// imageFile is what the checks need of one path of the image.
type imageFile struct {
	regular bool
	mode    int64
	size    int64
	head    []byte // first bytes (ELF magic)
	data    []byte // whole content, for the dpkg status only
}

// applyLayer applies a gzip tar layer to files; it returns the layer's diff id and
// uncompressed size. Whiteouts are refused: WriteArchive makes none.
func applyLayer(data []byte, files map[string]*imageFile) (string, int64, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	counted := &countingReader{r: io.TeeReader(zr, h)}
	tr := tar.NewReader(counted)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", 0, err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(path.Clean("/"+hdr.Name), "/"), "/")
		if strings.HasPrefix(path.Base(name), ".wh.") {
			return "", 0, fmt.Errorf("whiteout %s: layers of this image never remove files", name)
		}
		f := &imageFile{regular: hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeLink, mode: hdr.Mode, size: hdr.Size}
		if hdr.Typeflag == tar.TypeLink {
			if target := files[strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/")]; target != nil {
				f.size, f.head = target.size, target.head
			}
		}
		if hdr.Typeflag == tar.TypeReg {
			limit := int64(4)
			if name == "var/lib/dpkg/status" {
				limit = 64 << 20
			}
			b, err := io.ReadAll(io.LimitReader(tr, limit))
			if err != nil {
				return "", 0, err
			}
			f.head = b
			if name == "var/lib/dpkg/status" {
				f.data = b
			}
		}
		files[name] = f
	}
	// Read to the end: the diff id covers the whole stream, tar's padding included.
	if _, err := io.Copy(io.Discard, counted); err != nil {
		return "", 0, err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), counted.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
