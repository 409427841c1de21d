package checkpoint

import (
	"github.com/lookout-synthetics/lookout/agent/internal/runner"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// addValueOrFile maps a vault secret or file from a run's material into the runner's inputs, by
// item name, and ignores any other kind of material. Kept apart from resolve so the
// secret and file types stay independent of how material is fetched and cached.
func addValueOrFile(out *runner.Secrets, sec *pb.RunSecret) {
	switch v := sec.Value.(type) {
	case *pb.RunSecret_Secret:
		if out.Values == nil {
			out.Values = map[string]string{}
		}
		out.Values[sec.Name] = v.Secret.GetValue()
	case *pb.RunSecret_File:
		if out.Files == nil {
			out.Files = map[string]runner.File{}
		}
		out.Files[sec.Name] = runner.File{Filename: v.File.GetFilename(), ContentType: v.File.GetContentType(), Content: v.File.GetContent()}
	}
}
