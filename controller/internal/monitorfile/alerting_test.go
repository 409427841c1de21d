package monitorfile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
)

const alertingMonitor = `name: shop
interval: 1m
checkpoints: [paris, tokyo]
steps:
  - request: {url: "https://127.0.0.1/"}
alerting:
  confirm: 2
  escalations:
    - {after: 0s, notify: [ops-hook], remind_every: 30m}
    - {after_errors: 5, notify: [lead-hook, pager]}
  notify_recovery: false
`

func TestAlertingBlockRoundTrips(t *testing.T) {
	m, err := Parse([]byte(alertingMonitor))
	if err != nil {
		t.Fatal(err)
	}
	p := m.GetAlerting()
	if p.Confirm != 2 || len(p.Escalations) != 2 || p.NotifyRecovery || p.Escalations[1].AfterErrors != 5 || p.Escalations[0].RemindEvery.AsDuration().Minutes() != 30 {
		t.Fatalf("alerting = %v", p)
	}
	out, err := Format(m)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(out)
	if err != nil {
		t.Fatalf("Format's output does not parse: %v\n%s", err, out)
	}
	if diff := cmp.Diff(m, again, protocmp.Transform()); diff != "" {
		t.Errorf("round trip (-first +again):\n%s", diff)
	}
	plain, _ := Parse([]byte(strings.Replace(alertingMonitor, "  notify_recovery: false\n", "", 1)))
	if !plain.GetAlerting().GetNotifyRecovery() {
		t.Error("notify_recovery does not default to true")
	}
}

func TestAlertingBlockErrorsNameTheirPath(t *testing.T) {
	head := "name: shop\ncheckpoints: [paris]\nsteps:\n  - request: {url: \"https://127.0.0.1/\"}\nalerting:\n"
	lvl := "    - {notify: [ops]}\n"
	for name, tc := range map[string]struct{ block, want string }{
		"no levels":         {"  escalations: []\n", "alerting.escalations: needs 1 to 3 levels"},
		"four levels":       {"  escalations:\n" + strings.Repeat(lvl, 4), "alerting.escalations[3]: a monitor has at most 3"},
		"no channel":        {"  escalations:\n    - {after: 1m}\n", "alerting.escalations[0].notify: names no channel"},
		"both after kinds":  {"  escalations:\n    - {after: 1m, after_errors: 2, notify: [ops]}\n", "alerting.escalations[0]: give after or after_errors"},
		"too quick reminds": {"  escalations:\n    - {notify: [ops], remind_every: 1s}\n", "alerting.escalations[0].remind_every"},
		"confirm too high":  {"  confirm: 3\n  escalations:\n" + lvl, "alerting.confirm"},
		"unknown field":     {"  escalations:\n" + lvl + "  page: true\n", "alerting.page"},
		"bad channel name":  {"  escalations:\n    - {notify: ['a b']}\n", "alerting.escalations[0].notify[0]"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(head + tc.block))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
