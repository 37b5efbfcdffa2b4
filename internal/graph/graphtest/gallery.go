package graphtest

import (
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

var galleryPage = template.Must(template.New("gallery").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>graphtest: photos</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;background:#fafafa;color:#222}
.grid{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0;padding:.5rem;background:#fff;border:1px solid #ddd;border-radius:6px;width:200px}
img{width:200px;height:200px;object-fit:contain;background:#eee}
figcaption{font-size:.8rem;word-break:break-all}
</style></head><body>
<h1>Photos held by the Graph emulator</h1>
{{if not .Tenants}}<p>No photos yet.</p>{{end}}
{{range .Tenants}}<h2>Tenant {{.ID}}</h2><div class="grid">
{{range .Photos}}<figure><img src="{{.Src}}" alt="{{.Target}}" width="200" height="200">
<figcaption><b>{{.Target}}</b><br>{{.Width}}×{{.Height}} {{.ContentType}}, {{.Bytes}} bytes<br>etag {{.ETag}}<br>changed {{.Updated}}</figcaption></figure>
{{end}}</div>{{end}}
</body></html>`))

type galleryTenant struct {
	ID     string
	Photos []galleryPhoto
}

type galleryPhoto struct {
	Target, ContentType, ETag, Updated string
	Width, Height, Bytes               int
	Src                                string
}

// serveGallery shows every stored photo per tenant (GET /gallery) and serves each one
// (GET /gallery/photo?key=…), so a person can see what the pipeline sent.
func (e *emulator) serveGallery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/gallery/photo":
		e.mu.Lock()
		p := e.photos[r.URL.Query().Get("key")]
		var data []byte
		var ct string
		if p != nil {
			data, ct = p.data, p.contentType
		}
		e.mu.Unlock()
		if p == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(data)
		return
	case "/gallery", "/gallery/":
	default:
		http.NotFound(w, r)
		return
	}
	byTenant := map[string][]galleryPhoto{}
	e.mu.Lock()
	for _, p := range e.photos {
		byTenant[p.tenant] = append(byTenant[p.tenant], galleryPhoto{
			Target: p.target, ContentType: p.contentType, ETag: p.etag, Updated: p.updated.UTC().Format(time.RFC3339),
			Width: p.width, Height: p.height, Bytes: len(p.data),
			Src: "/gallery/photo?key=" + url.QueryEscape(p.key) + "&etag=" + url.QueryEscape(p.etag),
		})
	}
	e.mu.Unlock()
	var view struct{ Tenants []galleryTenant }
	for id, ps := range byTenant {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Target < ps[j].Target })
		view.Tenants = append(view.Tenants, galleryTenant{ID: id, Photos: ps})
	}
	sort.Slice(view.Tenants, func(i, j int) bool { return view.Tenants[i].ID < view.Tenants[j].ID })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = galleryPage.Execute(w, view)
}
