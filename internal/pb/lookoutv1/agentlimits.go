package lookoutv1

import "fmt"

// Limits on what an agent sends the controller. An agent is not trusted with the controller's
// memory, disk or terminal: every repeated field it fills has a cap, and the words it chooses that
// the controller stores and shows (instance name, version) are printable ASCII. The agent trims
// what it records of a monitored API's answer to the same caps, so a healthy agent never meets them.
const (
	MaxInstanceNameLength = 64
	MaxAgentVersionLength = 32
	// MaxHeldItems caps the items an agent may say it holds (heartbeat cached, fetch have): far
	// more than the vault items one checkpoint's monitors can name.
	MaxHeldItems = 1024
	// MaxResultHeaders caps the request and the response headers recorded for one step.
	MaxResultHeaders = 200
	// MaxStepChecks caps a step's assertions and its extractions (in a monitor, and in a result).
	MaxStepChecks = 100
)

// CheckAgentText refuses an agent-chosen word that is longer than max bytes or holds anything but
// printable ASCII: no control character (an escape sequence begins with one), no byte outside
// ASCII (where C1 controls and look-alike characters live).
func CheckAgentText(field, s string, max int) error {
	if len(s) > max {
		return FieldError{Path: field, Msg: fmt.Sprintf("must be at most %d characters (got %d)", max, len(s))}
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return FieldError{Path: field, Msg: fmt.Sprintf("byte %d (%#02x) is not printable ASCII: use letters, digits, punctuation and spaces", i, c)}
		}
	}
	return nil
}

// Validate checks what an agent sends at enrollment beyond its token, CSR and key.
func (r *EnrollRequest) Validate() error {
	if err := CheckAgentText("instance_name", r.GetInstanceName(), MaxInstanceNameLength); err != nil {
		return err
	}
	return CheckAgentText("version", r.GetVersion(), MaxAgentVersionLength)
}

// Validate checks a heartbeat: its version as at enrollment, and how many items it lists.
func (r *HeartbeatRequest) Validate() error {
	if err := CheckAgentText("version", r.GetVersion(), MaxAgentVersionLength); err != nil {
		return err
	}
	return checkCount("cached", len(r.GetCached()), MaxHeldItems)
}

// Validate checks how many held items a FetchRunSecrets call lists.
func (r *FetchRunSecretsRequest) Validate() error {
	return checkCount("have", len(r.GetHave()), MaxHeldItems)
}

// ValidateReport checks the repeated fields of a result an agent reports.
func (r *RunResult) ValidateReport() error {
	if err := checkCount("result.steps", len(r.GetSteps()), MaxSteps); err != nil {
		return err
	}
	for i, st := range r.GetSteps() {
		p := fmt.Sprintf("result.steps[%d]", i)
		for _, c := range []struct {
			field  string
			n, max int
		}{
			{".request_headers", len(st.GetRequestHeaders()), MaxResultHeaders},
			{".response_headers", len(st.GetResponseHeaders()), MaxResultHeaders},
			{".assertions", len(st.GetAssertions()), MaxStepChecks},
			{".variables", len(st.GetVariables()), MaxStepChecks},
		} {
			if err := checkCount(p+c.field, c.n, c.max); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkCount(field string, n, max int) error {
	if n > max {
		return FieldError{Path: field, Msg: fmt.Sprintf("at most %d entries are allowed (got %d)", max, n)}
	}
	return nil
}
