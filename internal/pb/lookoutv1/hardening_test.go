package lookoutv1

import (
	"fmt"
	"strings"
	"testing"
)

// A monitor, or a checkpoint a monitor names, may not be called like an id: an id-shaped name is
// how one item stood in for another (issue 18).
func TestValidateRefusesIDShapedNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"mon_0193a1b2c3d4e5f6a7b8c9d0", "vi_x", "CP_x", "run_1", "ag_a"} {
		m := validMonitor()
		m.Name = name
		m.Checkpoints = []string{"public-1", name}
		err := m.Validate()
		if err == nil || !strings.Contains(err.Error(), "name: names may not start with") ||
			!strings.Contains(err.Error(), "checkpoints[1]: ") {
			t.Errorf("monitor and checkpoint named %q: Validate() = %v, want both refused as shaped like ids", name, err)
		}
	}
	for _, name := range []string{"vip", "cpu-check", "monitor", "runner", "agent"} {
		m := validMonitor()
		m.Name = name
		if err := m.Validate(); err != nil {
			t.Errorf("monitor named %q: %v, want it accepted (no id prefix)", name, err)
		}
	}
}

// Every free-text field has a cap and every list a length, and the whole monitor an encoded size:
// each is refused with its path.
func TestValidateCapsSizes(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("v", n) }
	tests := map[string]struct {
		change func(m *Monitor)
		want   string
	}{
		"variable value": {func(m *Monitor) { m.Variables["base"] = long(MaxValueLength + 1) }, "variables.base: is 65537 bytes; the limit is 65536"},
		"header value": {func(m *Monitor) { m.Steps[0].Request.Headers[0].Value = long(MaxTextLength + 1) },
			"steps[0].request.headers.Content-Type: is 8193 bytes"},
		"body":            {func(m *Monitor) { m.Steps[0].Request.Body = long(MaxBodyLength + 1) }, "steps[0].request.body: is 524289 bytes"},
		"assertion value": {func(m *Monitor) { m.Steps[2].Assert[1].Value = long(MaxTextLength + 1) }, "steps[2].assert[1].value: is 8193 bytes"},
		"url":             {func(m *Monitor) { m.Steps[2].Request.Url = "https://e/" + long(MaxTextLength) }, "steps[2].request.url: is 8202 bytes"},
		"assertions": {func(m *Monitor) {
			for range MaxStepChecks {
				m.Steps[2].Assert = append(m.Steps[2].Assert, m.Steps[2].Assert[0])
			}
		}, "steps[2].assert: at most 100 entries are allowed (got 102)"},
		"encoded size": {func(m *Monitor) {
			for i := range 20 {
				m.Variables[fmt.Sprintf("v%d", i)] = long(MaxValueLength)
			}
		}, "once encoded; the limit is 1048576 (1 MiB)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := validMonitor()
			tc.change(m)
			if err := m.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
