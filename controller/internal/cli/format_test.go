package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// TestInstanceStateAndLoad: the words and counts `checkpoint list` prints for an instance.
func TestInstanceStateAndLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ag            *pb.AgentInstance
		state, flight string
	}{
		{&pb.AgentInstance{}, "offline", "0"},
		{&pb.AgentInstance{Online: true, RunsInFlight: 3, MaxConcurrentRuns: 64}, "online", "3/64"},
		{&pb.AgentInstance{Online: true, Saturated: true, RunsInFlight: 64, MaxConcurrentRuns: 64, RunsWaiting: 12}, "online, saturated", "64/64 +12 waiting"},
		{&pb.AgentInstance{Online: false, Saturated: true}, "offline", "0"},
		{&pb.AgentInstance{Online: true, Revoked: true, RunsInFlight: 2}, "revoked", "2"},
	} {
		if got := instanceState(tc.ag); got != tc.state {
			t.Errorf("instanceState(%v) = %q, want %q", tc.ag, got, tc.state)
		}
		if got := inFlight(tc.ag); got != tc.flight {
			t.Errorf("inFlight(%v) = %q, want %q", tc.ag, got, tc.flight)
		}
	}
}

// TestAgoAndExpiry: times are shown relative to now, to the second; a time never set says so.
func TestAgoAndExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for in, want := range map[time.Time]string{
		now.Add(-4*time.Second - 300*time.Millisecond): "4s ago",
		now.Add(-3*time.Minute - 12*time.Second):       "3m12s ago",
		{}:                                             "never",
		time.Unix(0, 0):                                "never",
	} {
		if got := ago(now, in); got != want {
			t.Errorf("ago(%v) = %q, want %q", in, got, want)
		}
	}
	day := func(d time.Time) string { return d.Local().Format(time.DateOnly) }
	in29 := now.Add(29*24*time.Hour + time.Hour)
	for _, tc := range []struct {
		ts   *timestamppb.Timestamp
		want string
	}{
		{nil, "-"},
		{timestamppb.New(in29), day(in29) + " (29d)"},
		{timestamppb.New(now), day(now) + " (expired)"},
		{timestamppb.New(now.Add(-time.Hour)), day(now.Add(-time.Hour)) + " (expired)"},
	} {
		if got := certExpiry(now, tc.ts); got != tc.want {
			t.Errorf("certExpiry(%v) = %q, want %q", tc.ts.AsTime(), got, tc.want)
		}
	}
}

// TestSmallWords: outcomes, uptime with nothing to judge, empty cells and item types.
func TestSmallWords(t *testing.T) {
	t.Parallel()
	for o, want := range map[pb.Outcome]string{pb.Outcome_OUTCOME_PASSED: "PASS", pb.Outcome_OUTCOME_FAILED: "FAIL", pb.Outcome_OUTCOME_ERROR: "ERROR", pb.Outcome_OUTCOME_UNSPECIFIED: ""} {
		if got := outcomeWord(o); got != want {
			t.Errorf("outcomeWord(%v) = %q, want %q", o, got, want)
		}
	}
	for _, tc := range []struct {
		w    *pb.WindowStats
		want string
	}{
		{&pb.WindowStats{}, "-"},
		{&pb.WindowStats{Runs: 3, LookoutErrors: 3, Uptime: 1}, "-"}, // only Lookout's own errors: nothing to judge
		{&pb.WindowStats{Runs: 4, Uptime: 0.75}, "75.000%"},
	} {
		if got := uptime(tc.w); got != tc.want {
			t.Errorf("uptime(%v) = %q, want %q", tc.w, got, tc.want)
		}
	}
	if orDash("") != "-" || orDash("x") != "x" {
		t.Errorf("orDash: %q %q", orDash(""), orDash("x"))
	}
	if got := usedBy(&pb.VaultItem{}); got != "-" {
		t.Errorf("usedBy with no monitor = %q, want -", got)
	}
	if got := usedBy(&pb.VaultItem{UsedBy: []string{"orders", "evil\x1b[2J"}}); got != `orders,evil\x1b[2J` {
		t.Errorf("usedBy = %q, want the names joined and escaped", got)
	}
}

// TestItemDetailWarnsOfExpiry: a certificate item's detail warns when it has expired or expires
// within 30 days; other items show their user, file or description.
func TestItemDetailWarnsOfExpiry(t *testing.T) {
	t.Parallel()
	cert := func(left time.Duration) *pb.VaultItem {
		return &pb.VaultItem{Certificate: &pb.CertificateInfo{Subject: "CN=partner", NotAfter: timestamppb.New(time.Now().Add(left))}}
	}
	for _, tc := range []struct {
		it        *pb.VaultItem
		want, not string
	}{
		{cert(-time.Hour), "CN=partner, expires ", ""},
		{cert(-time.Hour), "— WARN: EXPIRED", "expires in"},
		{cert(10*24*time.Hour + time.Hour), "— WARN: expires in 10 days", "EXPIRED"},
		{cert(90 * 24 * time.Hour), "CN=partner, expires ", "WARN"},
		{&pb.VaultItem{Username: "api-user", Description: "d"}, "user api-user", "d"},
		{&pb.VaultItem{File: &pb.FileInfo{Filename: "body.json", ContentType: "application/json", Size: 42}}, "body.json, application/json, 42 bytes", ""},
		{&pb.VaultItem{Description: "the partner's key"}, "the partner's key", ""},
	} {
		got := itemDetail(tc.it)
		if !strings.Contains(got, tc.want) || (tc.not != "" && strings.Contains(got, tc.not)) {
			t.Errorf("itemDetail = %q, want %q and not %q", got, tc.want, tc.not)
		}
	}
}

// TestReadSecret: a password comes from a file or stdin without its line ending, never from both.
func TestReadSecret(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("s3cret\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env, _, _ := testEnv("from-stdin\n")
	if got, err := readSecret(env, file, false, "password"); err != nil || got != "s3cret" {
		t.Errorf("from a file: %q, %v; want s3cret", got, err)
	}
	if got, err := readSecret(env, "", true, "password"); err != nil || got != "from-stdin" {
		t.Errorf("from stdin: %q, %v; want from-stdin", got, err)
	}
	if got, err := readSecret(env, "", false, "password"); err != nil || got != "" {
		t.Errorf("with neither: %q, %v; want empty", got, err)
	}
	var usage *UsageError
	if _, err := readSecret(env, file, true, "archive password"); !errors.As(err, &usage) || !strings.Contains(err.Error(), "archive password with --password-file or --password-stdin, not both") {
		t.Errorf("with both: %v, want a usage mistake", err)
	}
	if _, err := readSecret(env, file+".missing", false, "password"); err == nil || !strings.Contains(err.Error(), "reading password file") {
		t.Errorf("a missing file: %v", err)
	}
	if _, err := credentialsPassword(env, "", false); !errors.As(err, &usage) || !strings.Contains(err.Error(), "--password-stdin") {
		t.Errorf("credentials without a password: %v, want a usage mistake naming the options", err)
	}
}

// TestReadCappedNamesTheFileAndTheLimit: a file past the limit is refused before it is sent.
func TestReadCappedNamesTheFileAndTheLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exact := filepath.Join(dir, "exact")
	over := filepath.Join(dir, "over")
	if err := os.WriteFile(exact, make([]byte, 2048), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(over, make([]byte, 2049), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := readCapped(exact, 2048); err != nil || len(b) != 2048 {
		t.Errorf("a file at the limit: %d bytes, %v", len(b), err)
	}
	if _, err := readCapped(over, 2048); err == nil || err.Error() != over+" is larger than 2 KiB, the most this command accepts: check that it is the right file" {
		t.Errorf("a file past the limit: %v", err)
	}
}

// TestPasswordHint: an archive refused as invalid, sent without any password option, gets the hint
// how to give one; with an option, or refused for another reason, the error is left alone.
func TestPasswordHint(t *testing.T) {
	t.Parallel()
	refused := status.Error(codes.InvalidArgument, "archive password is incorrect")
	got := passwordHint(refused, "", false)
	if status.Code(got) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(got).Message(), "archive password is incorrect\nno password was given: ") {
		t.Errorf("without a password option: %v", got)
	}
	for _, tc := range []struct {
		err     error
		pwFile  string
		pwStdin bool
	}{{refused, "pw.txt", false}, {refused, "", true}, {status.Error(codes.AlreadyExists, "exists"), "", false}} {
		if got := passwordHint(tc.err, tc.pwFile, tc.pwStdin); got != tc.err {
			t.Errorf("passwordHint(%v, %q, %v) = %v, want it unchanged", tc.err, tc.pwFile, tc.pwStdin, got)
		}
	}
}

// TestItemNameArg: the item is named once, as the argument or with --name.
func TestItemNameArg(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flag string
		rest []string
		want string // the name, or the start of the usage mistake
		bad  bool
	}{
		{"", []string{"a"}, "a", false},
		{"a", nil, "a", false},
		{"a", []string{"a"}, "a", false},
		{"a", []string{"b"}, `the item is named twice ("b" and --name "a")`, true},
		{"", []string{"a", "b"}, "give one item name, not 2", true},
		{"", nil, "name the item: vault show NAME (or --name NAME)", true},
	} {
		name := tc.flag
		err := itemNameArg(&name, tc.rest, "vault show")
		var usage *UsageError
		switch {
		case tc.bad && (!errors.As(err, &usage) || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("--name %q %q: %v, want a usage mistake %q", tc.flag, tc.rest, err, tc.want)
		case !tc.bad && (err != nil || name != tc.want):
			t.Errorf("--name %q %q: %q, %v; want %q", tc.flag, tc.rest, name, err, tc.want)
		}
	}
}

// TestConnFlagsComeFromTheEnvironment: LOOKOUT_ADDR, LOOKOUT_TOKEN_FILE and LOOKOUT_CA_FILE are the
// defaults, a flag wins over them, and what is missing is named with the flag and the variable
// before anything is dialled.
func TestConnFlagsComeFromTheEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	token := filepath.Join(dir, "admin.token")
	notPEM := filepath.Join(dir, "ca.pem")
	for _, f := range []string{token, notPEM} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	vars := map[string]string{"LOOKOUT_ADDR": "10.0.0.1:7443", "LOOKOUT_TOKEN_FILE": token, "LOOKOUT_CA_FILE": notPEM}
	env, _, _ := testEnv("")
	env.Getenv = func(k string) string { return vars[k] }
	var c conn
	fs := newFlags("monitor list", env)
	c.register(fs, env)
	if err := parseNone(fs, nil); err != nil {
		t.Fatal(err)
	}
	if c.addr != "10.0.0.1:7443" || c.tokenFile != token || c.caFile != notPEM || c.output != "text" {
		t.Errorf("from the environment: %+v", c)
	}
	if _, err := c.dial(); err == nil || err.Error() != "--ca-file "+notPEM+" holds no PEM certificate" {
		t.Errorf("dial with a CA file that is not PEM: %v", err)
	}
	fs = newFlags("monitor list", env)
	c.register(fs, env)
	if err := parseNone(fs, []string{"--addr", "127.0.0.1:1", "-o", "yaml"}); err != nil {
		t.Fatal(err)
	}
	if c.addr != "127.0.0.1:1" {
		t.Errorf("--addr did not win over LOOKOUT_ADDR: %q", c.addr)
	}
	if _, err := c.dial(); err == nil || err.Error() != `-o "yaml": use text or json` {
		t.Errorf("dial with -o yaml: %v", err)
	}

	bare, _, _ := testEnv("")
	for _, tc := range []struct {
		c    conn
		want string
	}{
		{conn{addr: "127.0.0.1:1", output: "text"}, "no admin token: pass --token-file or set LOOKOUT_TOKEN_FILE"},
		{conn{addr: "127.0.0.1:1", output: "text", tokenFile: token}, "no controller CA: pass --ca-file or set LOOKOUT_CA_FILE"},
		{conn{addr: "127.0.0.1:1", output: "json", tokenFile: filepath.Join(dir, "missing")}, "reading admin token: "},
	} {
		if _, err := tc.c.dial(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("dial %+v: %v, want %q…", tc.c, err, tc.want)
		}
	}
	var usage *UsageError
	if err := runCommand(t, bare, "monitor", "list"); err == nil || errors.As(err, &usage) || !strings.HasPrefix(err.Error(), "no admin token") {
		t.Errorf("monitor list with no token: %v; want the missing token named, not a usage mistake (exit 1, not 2)", err)
	}
}

// TestExplain: an unreachable controller names the address and what to check; any other gRPC
// error is its message alone, without the code.
func TestExplain(t *testing.T) {
	t.Parallel()
	c := &conn{addr: "10.0.0.1:7443"}
	got := c.explain(status.Error(codes.Unavailable, "connection refused")).Error()
	if !strings.HasPrefix(got, "cannot reach the controller at 10.0.0.1:7443: connection refused\n") || !strings.Contains(got, "LOOKOUT_ADDR") {
		t.Errorf("unavailable: %q", got)
	}
	if got := c.explain(status.Error(codes.NotFound, `monitor "orders" not found`)).Error(); got != `monitor "orders" not found` {
		t.Errorf("not found: %q, want the message alone", got)
	}
	plain := errors.New("plain")
	if got := friendly(plain); got != plain {
		t.Errorf("friendly changed a non-gRPC error: %v", got)
	}
}
