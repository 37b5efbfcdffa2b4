package obs

// The metrics both functions write, one EMF line per photo, under Namespace with the one
// dimension FunctionDimension (the Lambda function's name). template.yaml's alarms and
// dashboard read them by these names; internal/deploy checks that every metric the template
// reads is one the code writes, so a misspelt name fails a test rather than alarming on nothing.
const (
	Namespace         = "GraphPhoto"
	FunctionDimension = "FunctionName"

	PhotosSynced    = "PhotosSynced"    // Count: the photo was written to Graph
	PhotosUnchanged = "PhotosUnchanged" // Count: Graph already held this very photo; not written again
	PhotosRejected  = "PhotosRejected"  // Count: permanent refusal (not an image, too many pixels, unknown target…)
	PhotosFailed    = "PhotosFailed"    // Count: transient failure (Graph down, throttled…), retried
	PhotosSkipped   = "PhotosSkipped"   // Count: nothing sent on purpose (an object already synced, superseded, or not an upload)
	NormaliseMs     = "NormaliseMs"     // Milliseconds spent normalising the image
	GraphMs         = "GraphMs"         // Milliseconds spent on Graph's PUT, retries included
	BytesIn         = "BytesIn"         // Bytes of the source image
	BytesOut        = "BytesOut"        // Bytes of the JPEG sent to Graph
)
