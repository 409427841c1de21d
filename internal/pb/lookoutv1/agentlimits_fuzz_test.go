package lookoutv1

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzAgentMessages feeds arbitrary bytes to the controller's checks of what an agent sends (the
// agent is on the other side of a trust boundary): decoding then validating must never panic, and
// whatever passes keeps every cap and the printable-ASCII rule.
func FuzzAgentMessages(f *testing.F) {
	for _, m := range []proto.Message{
		&EnrollRequest{Token: "lkt_x", InstanceName: "box-1", Version: "v1.2.3"},
		&EnrollRequest{InstanceName: "box\x1b[2J", Version: "\x1b]8;;https://e/\a"},
		&HeartbeatRequest{Version: "dev", Cached: []*SecretRef{{ItemId: "vi_01", Version: 2}}},
		&FetchRunSecretsRequest{RunId: "run_1", Attempt: 1, Have: []*SecretRef{{ItemId: "vi_01", Version: 1}}},
		&ReportResultRequest{Result: &RunResult{RunId: "run_1", Steps: []*StepResult{{Name: "s", ResponseHeaders: []*Header{{Name: "A", Value: "b"}}}}}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var enroll EnrollRequest
		if proto.Unmarshal(data, &enroll) == nil && enroll.Validate() == nil {
			for _, s := range []string{enroll.GetInstanceName(), enroll.GetVersion()} {
				for i := 0; i < len(s); i++ {
					if s[i] < 0x20 || s[i] > 0x7e {
						t.Fatalf("Validate passed %q, which holds byte %#x", s, s[i])
					}
				}
			}
			if len(enroll.GetInstanceName()) > MaxInstanceNameLength || len(enroll.GetVersion()) > MaxAgentVersionLength {
				t.Fatalf("Validate passed an over-long instance name or version")
			}
		}
		var hb HeartbeatRequest
		if proto.Unmarshal(data, &hb) == nil && hb.Validate() == nil && len(hb.GetCached()) > MaxHeldItems {
			t.Fatalf("Validate passed %d cached items", len(hb.GetCached()))
		}
		var fetch FetchRunSecretsRequest
		if proto.Unmarshal(data, &fetch) == nil && fetch.Validate() == nil && len(fetch.GetHave()) > MaxHeldItems {
			t.Fatalf("Validate passed %d held items", len(fetch.GetHave()))
		}
		var report ReportResultRequest
		if proto.Unmarshal(data, &report) == nil && report.GetResult().ValidateReport() == nil {
			res := report.GetResult()
			if len(res.GetSteps()) > MaxSteps {
				t.Fatalf("ValidateReport passed %d steps", len(res.GetSteps()))
			}
			for _, st := range res.GetSteps() {
				if len(st.GetResponseHeaders()) > MaxResultHeaders || len(st.GetRequestHeaders()) > MaxResultHeaders ||
					len(st.GetAssertions()) > MaxStepChecks || len(st.GetVariables()) > MaxStepChecks {
					t.Fatal("ValidateReport passed a step over a cap")
				}
			}
		}
	})
}
