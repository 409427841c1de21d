package checkpoint

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lookout-synthetics/lookout/agent/internal/runner"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func TestAddValueOrFile(t *testing.T) {
	t.Parallel()
	out := &runner.Secrets{}
	for _, sec := range []*pb.RunSecret{
		{ItemId: "vi_1", Name: "api-key", Version: 2, Value: &pb.RunSecret_Secret{Secret: &pb.SecretMaterial{Value: "k"}}},
		{ItemId: "vi_2", Name: "payload", Version: 1, Value: &pb.RunSecret_File{File: &pb.FileMaterial{Filename: "p.json", ContentType: "application/json", Content: []byte("{}")}}},
		{ItemId: "vi_3", Name: "creds", Value: &pb.RunSecret_Credentials{Credentials: &pb.CredentialMaterial{Username: "u", Password: "p"}}},
	} {
		addValueOrFile(out, sec)
	}
	want := &runner.Secrets{Values: map[string]string{"api-key": "k"},
		Files: map[string]runner.File{"payload": {Filename: "p.json", ContentType: "application/json", Content: []byte("{}")}}}
	if diff := cmp.Diff(out, want); diff != "" {
		t.Errorf("secrets (-got +want):\n%s", diff)
	}
}
