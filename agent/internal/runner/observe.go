package runner

import (
	"strconv"
	"time"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// observe reads the value an assertion's source points at.
func observe(a *lookoutv1.Assertion, rsp *response, now time.Time) observed {
	path := a.GetPath()
	switch a.GetSource() {
	case lookoutv1.AssertSource_ASSERT_SOURCE_STATUS:
		return number("status", "", int64(rsp.status))
	case lookoutv1.AssertSource_ASSERT_SOURCE_BODY:
		return observed{subject: "body", value: string(rsp.body), present: true, quiet: true}
	case lookoutv1.AssertSource_ASSERT_SOURCE_JSON:
		return observeJSON(rsp, path)
	case lookoutv1.AssertSource_ASSERT_SOURCE_HEADER:
		v, ok := rsp.headerValue(path)
		return observed{subject: "header " + strconv.Quote(path), value: v, present: ok}
	case lookoutv1.AssertSource_ASSERT_SOURCE_COOKIE:
		v, ok := rsp.cookie(path)
		return observed{subject: "cookie " + strconv.Quote(path), value: v, present: ok}
	case lookoutv1.AssertSource_ASSERT_SOURCE_DURATION:
		return number("duration", " ms", rsp.elapsed.Milliseconds())
	case lookoutv1.AssertSource_ASSERT_SOURCE_SIZE:
		return number("body size", " bytes", rsp.size)
	case lookoutv1.AssertSource_ASSERT_SOURCE_CERT_DAYS_LEFT:
		return certDaysLeft(rsp, now)
	case lookoutv1.AssertSource_ASSERT_SOURCE_XPATH:
		return observeXPath(rsp, path)
	}
	return observed{subject: "value", err: constError("the assertion has no source")}
}

func number(subject, unit string, v int64) observed {
	return observed{subject: subject, numeric: true, unit: unit, value: strconv.FormatInt(v, 10), present: true}
}

func observeJSON(rsp *response, path string) observed {
	o := observed{subject: normalizePath(path), jsonNode: true}
	doc, err := rsp.json()
	if err != nil {
		o.err = err
		return o
	}
	node, ok, err := selectJSON(doc, path)
	if err != nil {
		o.err = err
		return o
	}
	if ok {
		o.value, o.present = jsonText(node), true
	}
	return o
}

func observeXPath(rsp *response, path string) observed {
	o := observed{subject: "XPath " + strconv.Quote(path)}
	doc, err := rsp.xml()
	if err != nil {
		o.err = err
		return o
	}
	o.value, o.present, o.err = selectXPath(doc, path)
	return o
}

// certDaysLeft counts whole days until the server's leaf certificate expires.
func certDaysLeft(rsp *response, now time.Time) observed {
	if rsp.tls == nil || len(rsp.tls.PeerCertificates) == 0 {
		return observed{subject: "server certificate days left",
			err: constError("the response did not come over TLS, so there is no server certificate to check")}
	}
	secs := rsp.tls.PeerCertificates[0].NotAfter.Unix() - now.Unix()
	days := secs / 86400
	if secs < 0 && secs%86400 != 0 {
		days-- // round towards the past: expired an hour ago is day -1
	}
	return number("server certificate days left", " days", days)
}
