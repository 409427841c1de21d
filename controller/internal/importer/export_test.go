package importer

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
)

// TestRoundTrip: Uptrends → Lookout → Uptrends → Lookout gives the same
// Lookout monitor, so every field the import maps survives the export. The
// only loss is the inline password, which the vault keeps write-only: the
// second import finds the same credential set by name instead.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fixture string
		opts    Options
	}{
		{"legacy.json", legacyOptions},
		{"script.json", Options{CheckpointMap: map[string]string{"31": "public-1"}}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			first := convertOne(t, tc.fixture, tc.opts)
			usernames := map[string]string{}
			for _, c := range first.Credentials {
				usernames[c.Item] = c.Username
			}
			first.Monitor.Paused = first.Paused
			out, report, err := Export(first.Monitor, ExportOptions{Bind: tc.opts.Bind, CheckpointMap: tc.opts.CheckpointMap, Usernames: usernames})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range report {
				if !strings.HasSuffix(f.Path, ".credentials") {
					t.Errorf("export reports a mapped field as lost: %s", f)
				}
			}
			second, err := Convert(t.Context(), out, tc.opts)
			if err != nil {
				t.Fatalf("re-importing the export: %v\n%s", err, out)
			}
			if diff := cmp.Diff(first.Monitor, second[0].Monitor, protocmp.Transform(), protocmp.IgnoreFields(first.Monitor, "paused")); diff != "" {
				t.Errorf("round trip changed the monitor (-first +second):\n%s", diff)
			}
			if second[0].Paused != first.Paused || string(second[0].File) != string(first.File) {
				t.Errorf("round trip changed the file or the state:\n%s\n%s", first.File, second[0].File)
			}
			if strings.Contains(string(out), "hunter2") || strings.Contains(string(out), "s3cr3t") {
				t.Errorf("the export holds a password:\n%s", out)
			}
		})
	}
}

// TestExportShape checks the export is what the Uptrends API takes: the
// current generation, with the steps in a JSON string.
func TestExportShape(t *testing.T) {
	t.Parallel()
	m := convertOne(t, "script.json", Options{CheckpointMap: map[string]string{"31": "public-1"}})
	out, _, err := Export(m.Monitor, ExportOptions{CheckpointMap: map[string]string{"31": "public-1"}})
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		Name, MonitorType, MultiStepApiTransactionScript string
		CheckInterval                                    int
		SelectedCheckpoints                              struct{ Checkpoints []int }
	}
	if err := json.Unmarshal(out, &up); err != nil {
		t.Fatal(err)
	}
	var script struct {
		MsaSteps []struct{ StepType, Name string }
		Version  int
	}
	if err := json.Unmarshal([]byte(up.MultiStepApiTransactionScript), &script); err != nil {
		t.Fatalf("MultiStepApiTransactionScript is not JSON: %v", err)
	}
	if up.Name != "shop-items" || up.MonitorType != "MultiStepApi" || up.CheckInterval != 1 || len(up.SelectedCheckpoints.Checkpoints) != 1 ||
		up.SelectedCheckpoints.Checkpoints[0] != 31 || script.Version != 2 || len(script.MsaSteps) != 3 || script.MsaSteps[1].StepType != "Delay" {
		t.Errorf("unexpected export:\n%s", out)
	}
}

func TestExportReportsWhatUptrendsCannotHold(t *testing.T) {
	t.Parallel()
	m := convertOne(t, "legacy.json", legacyOptions)
	m.Monitor.SecretVariables = map[string]string{"key": "api-key"}
	m.Monitor.Checkpoints = append(m.Monitor.Checkpoints, "private-9")
	_, report, err := Export(m.Monitor, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	text := string(reportText(report))
	for _, w := range []string{
		"secret_variables: not exported",
		"checkpoints: not exported: checkpoint private-9 has no --checkpoint-map entry",
		`steps[2].request.client_certificate.item: exported as "orders-cert"`,
		"steps[0].request.auth.credentials: exported without a password",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("report does not say %q:\n%s", w, text)
		}
	}
}
