package importer

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// staticLookup answers from fixed lists, as a controller with these items and
// checkpoints would.
type staticLookup struct {
	items       []string
	checkpoints []Checkpoint
	asked       int
}

func (l *staticLookup) VaultItems(context.Context) ([]string, error) {
	l.asked++
	return l.items, nil
}

func (l *staticLookup) Checkpoints(context.Context) ([]Checkpoint, error) {
	l.asked++
	return l.checkpoints, nil
}

var _ Lookup = (*staticLookup)(nil)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", name, diff)
	}
}

func reportText(fs []Finding) []byte {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String() + "\n")
	}
	return []byte(b.String())
}

var legacyOptions = Options{
	Bind:          map[string]string{"9b8e7d6c-5a4b-4c3d-8e2f-1a0b9c8d7e6f": "orders-cert"},
	CheckpointMap: map[string]string{"31": "public-1", "region:4": "public-2"},
}

func convertOne(t *testing.T, fixture string, o Options) Monitor {
	t.Helper()
	ms, err := Convert(t.Context(), readFixture(t, fixture), o)
	if err != nil {
		t.Fatalf("Convert(%s): %v", fixture, err)
	}
	if len(ms) != 1 {
		t.Fatalf("Convert(%s) gave %d monitors, want 1", fixture, len(ms))
	}
	return ms[0]
}

// TestConvertLegacy imports the first generation (top-level MsaSteps) with
// every enum value the importer knows, and checks the monitor file and the
// report against golden files.
func TestConvertLegacy(t *testing.T) {
	t.Parallel()
	m := convertOne(t, "legacy.json", legacyOptions)
	golden(t, "legacy.yaml", m.File)
	golden(t, "legacy.report", reportText(m.Report))

	if m.Monitor.Name != "Partner-orders-EU" || m.Monitor.Interval.AsDuration() != 5*time.Minute || m.Paused {
		t.Errorf("name %q, interval %v, paused %v; want Partner-orders-EU, 5m, false", m.Monitor.Name, m.Monitor.Interval.AsDuration(), m.Paused)
	}
	want := []Credential{{Item: "Partner-orders-EU-Get-token", Username: "api-user", Password: "hunter2-inline", Path: "MsaSteps[0].Authentication"}}
	if diff := cmp.Diff(want, m.Credentials); diff != "" {
		t.Errorf("credentials (-want +got):\n%s", diff)
	}
	if strings.Contains(string(m.File), "hunter2") || strings.Contains(string(reportText(m.Report)), "hunter2") {
		t.Errorf("the inline password reached the monitor file or the report")
	}
	steps := m.Monitor.Steps
	if got := steps[0].Request.ClientCertificate.GetSource(); got != pb.CertificateSource_CERTIFICATE_SOURCE_PLATFORM {
		t.Errorf("UseFixedClientCertificate became %v, want platform", got)
	}
	if got := steps[2].Request.ClientCertificate.GetItem(); got != "orders-cert" {
		t.Errorf("ClientCertificateVaultItem became item %q, want orders-cert (from --bind)", got)
	}
	if got := steps[1].Wait.AsDuration(); got != 1500*time.Millisecond {
		t.Errorf("Delay step waits %v, want 1.5s", got)
	}
	if got := m.Monitor.Variables["region"]; got != "eu-west" {
		t.Errorf("Constant variable region = %q, want eu-west as a predefined variable", got)
	}
	if a := steps[3].Request.Auth; a.Username != `CORP\svc` || a.Password != "{{ntlmPassword}}" || a.Credentials != "" {
		t.Errorf("a {{variable}} password should stay inline: %v", a)
	}
}

// TestConvertScript imports the current generation: steps in the
// MultiStepApiTransactionScript string.
func TestConvertScript(t *testing.T) {
	t.Parallel()
	m := convertOne(t, "script.json", Options{CheckpointMap: map[string]string{"31": "public-1"}})
	golden(t, "script.yaml", m.File)
	golden(t, "script.report", reportText(m.Report))
	if !m.Paused {
		t.Errorf("IsActive false should import paused")
	}
	if n := len(m.Monitor.Steps); n != 3 {
		t.Fatalf("%d steps, want 3", n)
	}
	if r := m.Monitor.Steps[2].Retry; r.GetMaxAttempts() != 2 || r.Delay() != time.Second {
		t.Errorf("retry = %v, want 2 attempts 1s apart", r)
	}
	if len(m.Credentials) != 1 || m.Credentials[0].Item != "shop-items-Login" {
		t.Errorf("credentials = %v, want one set shop-items-Login", m.Credentials)
	}
}

// TestConvertArrayDefaultsCheckpoints imports a bare array; without a
// --checkpoint-map every checkpoint is used, and only public ones for a
// monitor with a platform certificate step.
func TestConvertArrayDefaultsCheckpoints(t *testing.T) {
	t.Parallel()
	l := &staticLookup{checkpoints: []Checkpoint{{"private-1", false}, {"public-1", true}}}
	ms, err := Convert(t.Context(), readFixture(t, "array.json"), Options{Lookup: l})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, m := range ms {
		got[m.Path+" "+m.Monitor.Name] = m.Monitor.Checkpoints
	}
	want := map[string][]string{"[0] shop-items": {"public-1"}, "[1] health": {"private-1", "public-1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checkpoints (-want +got):\n%s", diff)
	}
	if l.asked != 1 {
		t.Errorf("the lookup was asked %d times, want once for both monitors", l.asked)
	}
}

func TestConvertBindsGUIDByVaultItemName(t *testing.T) {
	t.Parallel()
	guid := "9b8e7d6c-5a4b-4c3d-8e2f-1a0b9c8d7e6f"
	o := Options{CheckpointMap: legacyOptions.CheckpointMap, Lookup: &staticLookup{items: []string{guid}}}
	m := convertOne(t, "legacy.json", o)
	if got := m.Monitor.Steps[2].Request.ClientCertificate.GetItem(); got != guid {
		t.Errorf("item = %q, want the vault item named %s", got, guid)
	}
}

func TestConvertIsDeterministic(t *testing.T) {
	t.Parallel()
	first := convertOne(t, "legacy.json", legacyOptions)
	for range 20 {
		again := convertOne(t, "legacy.json", legacyOptions)
		if string(again.File) != string(first.File) || string(reportText(again.Report)) != string(reportText(first.Report)) {
			t.Fatalf("the same input gave another result:\n%s\n%s", first.File, again.File)
		}
	}
}

func TestConvertErrors(t *testing.T) {
	t.Parallel()
	step := func(s string) string {
		return `{"Name":"m","MsaSteps":[` + s + `]}`
	}
	for name, tc := range map[string]struct {
		in   string
		opts Options
		want []string
	}{
		"malformed json":      {in: "{\n  \"Name\": \"m\",\n  \"MsaSteps\": [,]\n}", want: []string{"not valid JSON", "line 3, column 16"}},
		"malformed script":    {in: `{"Name":"m","MultiStepApiTransactionScript":"{\"MsaSteps\": [}"}`, want: []string{"MultiStepApiTransactionScript: the script (a JSON string) is not valid JSON", "line 1, column 15"}},
		"empty":               {in: "  ", want: []string{"empty"}},
		"empty array":         {in: "[]", want: []string{"holds no monitor"}},
		"not an object":       {in: `"x"`, want: []string{"must be a monitor object or an array of monitors, not a string"}},
		"unknown comparison":  {in: step(`{"Url":"https://e.test/","Assertions":[{"Source":"ResponseStatusCode","Comparison":"Equals","TargetValue":"200"}]}`), want: []string{`MsaSteps[0].Assertions[0].Comparison: "Equals" is not a value the importer knows`, `did you mean "Equal"?`}},
		"unknown source":      {in: step(`{"Url":"https://e.test/","Variables":[{"Source":"Body","Name":"x"}]}`), want: []string{`MsaSteps[0].Variables[0].Source: "Body" is not a value`}},
		"unknown step type":   {in: step(`{"StepType":"Script"}`), want: []string{`MsaSteps[0].StepType: "Script"`}},
		"unknown method":      {in: step(`{"Url":"https://e.test/","Method":"FETCH"}`), want: []string{`MsaSteps[0].Method: "FETCH"`}},
		"unknown auth":        {in: step(`{"Url":"https://e.test/","Authentication":{"AuthenticationType":"Kerberos"}}`), want: []string{`MsaSteps[0].Authentication.AuthenticationType: "Kerberos"`}},
		"wrong type":          {in: `{"Name":"m","CheckInterval":"5","MsaSteps":[{"Url":"https://e.test/"}]}`, want: []string{"CheckInterval: must be a whole number, not a string"}},
		"unbound guid":        {in: step(`{"Name":"orders","Url":"https://e.test/","ClientCertificateVaultItem":"abc-123"}`), want: []string{`MsaSteps[0].ClientCertificateVaultItem: step "orders" uses Uptrends vault item "abc-123"`, "--bind abc-123=ITEM"}},
		"other monitor type":  {in: `{"Name":"m","MonitorType":"Https"}`, want: []string{`MonitorType: "Https" monitors cannot be imported`}},
		"invalid for lookout": {in: step(`{"Url":"ftp://e.test/"}`), want: []string{"MsaSteps[0]: ", "(Lookout field steps[0].request.url)"}},
		"undefined variable":  {in: step(`{"Url":"https://e.test/{{tokn}}"}`), want: []string{"MsaSteps[0]: {{tokn}} is not defined", "(Lookout field steps[0].request.url)"}},
		"no name":             {in: `{"MsaSteps":[{"Url":"https://e.test/"}]}`, want: []string{"Name: required"}},
		"duplicate names":     {in: `[` + step(`{"Url":"https://e.test/"}`) + `,` + step(`{"Url":"https://e.test/"}`) + `]`, want: []string{`[1].Name: monitor name "m" is used by [0] too`}},
		"unmapped checkpoint": {in: `{"Name":"m","SelectedCheckpoints":{"Checkpoints":[99]},"MsaSteps":[{"Url":"https://e.test/"}]}`, opts: Options{CheckpointMap: map[string]string{"31": "a"}}, want: []string{"SelectedCheckpoints: none of the selected checkpoints (99)"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := tc.opts
			if o.CheckpointMap == nil {
				o.CheckpointMap = map[string]string{"31": "a"}
				o.Lookup = &staticLookup{checkpoints: []Checkpoint{{"a", true}}}
			}
			_, err := Convert(t.Context(), []byte(tc.in), o)
			if err == nil {
				t.Fatalf("Convert accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestConvertCollectsEveryError(t *testing.T) {
	t.Parallel()
	in := `{"Name":"m","MsaSteps":[{"Url":"https://e.test/","Method":"FETCH"},{"StepType":"Wat"}]}`
	_, err := Convert(t.Context(), []byte(in), Options{Lookup: &staticLookup{checkpoints: []Checkpoint{{"a", true}}}})
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("want two errors, one per bad field, got %v", err)
	}
}

func TestCredentialStringHidesPassword(t *testing.T) {
	t.Parallel()
	c := Credential{Item: "i", Username: "u", Password: "p4ssw0rd", Path: "x"}
	for _, s := range []string{c.String(), c.GoString()} {
		if strings.Contains(s, "p4ssw0rd") {
			t.Errorf("%q shows the password", s)
		}
	}
}

// BenchmarkConvert is the cost of importing the legacy fixture (8 steps, every
// enum): go test -run '^$' -bench Convert ./controller/internal/importer/
func BenchmarkConvert(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "legacy.json"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Convert(b.Context(), data, legacyOptions); err != nil {
			b.Fatal(err)
		}
	}
}
