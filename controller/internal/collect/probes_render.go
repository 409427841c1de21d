package collect

import (
	"strconv"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

var phaseNames = []string{"resolve", "connect", "tls", "processing", "transfer"}

// render makes a series' text from its latest result. A run Lookout could not carry out keeps the
// probe gauges of the result before it (old), since it says nothing of the monitored API; the
// histogram is rendered anew either way.
func render(k pairKey, res *pb.RunResult, old *rendered, h *hist, lookoutErr bool) *rendered {
	labels := `monitor="` + labelValue(k.monitor) + `",checkpoint="` + labelValue(k.checkpoint) + `"`
	r := &rendered{}
	if lookoutErr && old != nil {
		*r = *old
	} else {
		renderProbe(r, labels, res, lookoutErr)
	}
	r[famRunHist] = renderHist(labels, h)
	return r
}

func renderProbe(r *rendered, labels string, res *pb.RunResult, lookoutErr bool) {
	if lookoutErr {
		return // the first result known is Lookout's own error: no probe series yet
	}
	success := "0"
	if res.Outcome == pb.Outcome_OUTCOME_PASSED {
		success = "1"
	}
	r[famSuccess] = gaugeLine("probe_success", labels, success)
	r[famDuration] = gaugeLine("probe_duration_seconds", labels, formatFloat(runSeconds(res)))
	r[famStatus] = gaugeLine("probe_http_status_code", labels, strconv.Itoa(int(lastStatus(res))))
	phases := phaseSums(res)
	var b []byte
	for i, name := range phaseNames {
		b = append(b, gaugeLine("probe_http_duration_seconds", labels+`,phase="`+name+`"`, formatFloat(phases[i]))...)
	}
	r[famPhase] = b
	if exp := earliestExpiry(res); exp > 0 {
		r[famSSL] = gaugeLine("probe_ssl_earliest_cert_expiry", labels, strconv.FormatInt(exp, 10))
	}
}

func gaugeLine(name, labels, value string) []byte {
	return []byte(name + "{" + labels + "} " + value + "\n")
}

func renderHist(labels string, h *hist) []byte {
	var b []byte
	cum := uint64(0)
	for i, c := range h.counts {
		cum += c
		le := "+Inf"
		if i < len(RunDurationBuckets) {
			le = formatFloat(RunDurationBuckets[i])
		}
		b = append(b, "lookout_run_duration_seconds_bucket{"+labels+`,le="`+le+`"} `+strconv.FormatUint(cum, 10)+"\n"...)
	}
	b = append(b, "lookout_run_duration_seconds_sum{"+labels+"} "+formatFloat(h.sum)+"\n"...)
	return append(b, "lookout_run_duration_seconds_count{"+labels+"} "+strconv.FormatUint(cum, 10)+"\n"...)
}

// lastStatus is the status code of the last step that got an answer.
func lastStatus(res *pb.RunResult) int32 {
	for i := len(res.Steps) - 1; i >= 0; i-- {
		if c := res.Steps[i].StatusCode; c != 0 {
			return c
		}
	}
	return 0
}

// phaseSums adds each phase over the run's steps, in phaseNames' order.
func phaseSums(res *pb.RunResult) [5]float64 {
	var s [5]float64
	for _, st := range res.Steps {
		t := st.GetTimings()
		for i, d := range []float64{t.GetDns().AsDuration().Seconds(), t.GetConnect().AsDuration().Seconds(), t.GetTls().AsDuration().Seconds(),
			t.GetFirstByte().AsDuration().Seconds(), t.GetDownload().AsDuration().Seconds()} {
			s[i] += d
		}
	}
	return s
}

// earliestExpiry is the soonest server certificate expiry any step saw, in unix seconds; 0 if none.
func earliestExpiry(res *pb.RunResult) int64 {
	var first int64
	for _, st := range res.Steps {
		if t := st.GetServerCertNotAfter(); t != nil && (first == 0 || t.Seconds < first) {
			first = t.Seconds
		}
	}
	return first
}
