package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/graphphoto/graphphoto/internal/lambdaimage"
	"github.com/graphphoto/graphphoto/internal/rietest"
	"github.com/graphphoto/graphphoto/internal/tool"
)

// imageInit measures INIT inside the Lambda image's root filesystem (the one make image-test
// built and cached): echo, onupload and api chrooted into it under the RIE, five fresh
// emulators each, median. It needs root; without it or without the cached root the section
// says so.
func (r *report) imageInit(ctx context.Context) {
	const section = "Function start-up (INIT) inside the Lambda image"
	if os.Geteuid() != 0 {
		r.skip(section, errors.New("needs root (chroot and mounts)"))
		return
	}
	wd, _ := os.Getwd()
	repo, ok := tool.ModuleRoot(wd)
	if !ok {
		r.skip(section, errors.New("not inside the repository"))
		return
	}
	cache, err := lambdaimage.DefaultCacheDir()
	if err != nil {
		r.skip(section, err)
		return
	}
	root, err := lambdaimage.EnsureRoot(ctx, lambdaimage.RootOptions{Repo: repo, CacheDir: cache, CacheOnly: true})
	if err != nil {
		r.skip(section, err)
		return
	}
	rie, err := rietest.Binary()
	if err != nil {
		r.skip(section, err)
		return
	}
	tmp, _ := os.MkdirTemp("", "benchimage")
	defer os.RemoveAll(tmp)
	if _, err := lambdaimage.BuildBootstraps(ctx, repo, filepath.Join(tmp, "task")); err != nil {
		r.skip(section, err)
		return
	}
	echo, err := rietest.Build(ctx, "./internal/rietest/testdata/echo", filepath.Join(tmp, "echo"))
	if err != nil {
		r.skip(section, err)
		return
	}
	c, err := lambdaimage.OpenChroot(cache, root.Dir, filepath.Join(tmp, "task"))
	if err != nil {
		r.skip(section, err)
		return
	}
	defer c.Close()
	for src, dst := range map[string]string{rie: "/tmp/rie/aws-lambda-rie", echo: "/tmp/echo/bootstrap"} {
		if err := c.Put(src, dst, 0o755); err != nil {
			r.skip(section, err)
			return
		}
	}
	env := map[string]string{"GRAPH_SECRET_ID": "x", "UPLOAD_BUCKET": "photos", "STATE_BUCKET": "photos-state", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
	for _, kv := range lambdaimage.ImageConfig().Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	r.f("\n## %s\n\n`INIT REPORT` of the same bootstraps run inside the image's root filesystem (`%s`, read-only, chroot) under aws-lambda-rie, five fresh emulators each, median; the rietest echo Lambda run there too is the floor.\n\n| Function | INIT median ms | min | max | vs echo |\n|---|---:|---:|---:|---:|\n", section, filepath.Base(root.Dir))
	var floor time.Duration
	for _, fn := range []struct{ name, bin, event string }{
		{"echo (reference)", "/tmp/echo/bootstrap", `{"ping":1}`},
		{"onupload", lambdaimage.TaskRoot + "/onupload", `{"Records":[]}`},
		{"api", lambdaimage.TaskRoot + "/api", `{"version":"2.0","rawPath":"/v1.0/me/photo","requestContext":{"http":{"method":"GET"}}}`},
	} {
		ds := initDurations(ctx, fn.bin, rietest.Options{Root: c.Dir, Binary: "/tmp/rie/aws-lambda-rie", MemoryMB: 2048, Env: env}, fn.event, 5)
		if len(ds) == 0 {
			r.f("| %s | no INIT REPORT | | | |\n", fn.name)
			continue
		}
		med := median(ds)
		if floor == 0 {
			floor = med
		}
		lo, hi := ds[0], ds[0]
		for _, d := range ds {
			lo, hi = min(lo, d), max(hi, d)
		}
		r.f("| %s | %s | %s | %s | %s |\n", fn.name, ms(med), ms(lo), ms(hi), ratio(med, floor))
	}
	fmt.Fprintf(os.Stderr, "benchreport: %s measured\n", section)
}
