// Package runner executes the steps of one monitor run and returns its result.
//
// It owns everything between "the agent has a RunRequest and the run's secrets"
// and "here is the RunResult": templating of {{variables}}, choosing the TLS
// identity of each step, sending HTTP requests with httptrace timings, reading
// capped bodies, extracting variables, evaluating assertions, retries, waits
// and redaction of secrets in the result.
//
// It must never:
//   - import anything under controller/ (the agent does not link vault code);
//   - fetch secrets itself: they arrive in [Secrets], already unsealed;
//   - let a secret reach the result or a log line: passwords (of every
//     credential set of the run), their base64 user:pass form, bearer tokens
//     and OAuth2 access tokens are replaced by "[redacted]";
//   - send credentials to a host other than the step's: digest and NTLM only
//     answer challenges from the step URL's host, and Go drops basic and
//     bearer headers on redirects to other hosts;
//   - share connections between runs: every run gets its own transports, one per
//     (client identity, TLS options, HTTP version) choice, closed when it ends.
//
// Authentication: basic and bearer are headers; digest (RFC 7616, MD5 and
// SHA-256, qop=auth; github.com/icholy/digest) and NTLMv2
// (github.com/Azure/go-ntlmssp) answer the server's challenge during the
// exchange, which counts as one step; a digest challenge is reused by later
// steps to the same host. OAuth2 client credentials
// (golang.org/x/oauth2/clientcredentials) fetches a token over the step's own
// transport and keeps it for the rest of the run, per credential set, token
// URL and scopes. NTLM steps use HTTP/1.1 unless the step says otherwise.
//
// Bodies: raw (Content-Type guessed when the step sets none: JSON, XML, HTML
// or text), URL-encoded form, or multipart form; a multipart body always
// sends its own Content-Type, since it carries the boundary. body_file sends a
// vault file's bytes as they are, with the file's content type unless the step
// sets a Content-Type header; a multipart field with file sends the file as a
// part (filename and type default to the file's). tls.ca_bundle_file adds a
// vault file's PEM certificates to those the step trusts.
//
// Secret variables (Monitor.secret_variables) take their values from vault
// secrets ([Secrets].Values) and behave like other variables; every vault
// secret value of the run is redacted like a password, wherever it appears —
// URL, headers, echoed bodies, extracted variables, assertion values, errors.
//
// Automatic variables:
//
//	{{@RandomGuid}}              a random version 4 UUID, lower case
//	{{@RandomInt(a,b)}}          a random integer in [a, b]
//	{{@DateTime(format,offset)}} the current UTC time, shifted by offset
//
// The DateTime format uses .NET custom format tokens (yyyy, yy, MM, MMM, MMMM,
// dd, ddd, dddd, HH, hh, mm, ss, f…fffffff, F…, tt, zzz, K; 'quoted' text and
// \-escapes are literal; other characters are copied), or one of the standard
// formats o, s, u and r. An empty format gives yyyy-MM-ddTHH:mm:ssK. The offset
// is optional: "+1d", "-2h", "30m", "1d12h", "1w" or a plain number of seconds;
// text after the last comma counts as the offset when it starts with a sign
// or a digit.
//
// Semantics worth knowing:
//   - A step's timeout bounds each attempt; the monitor's timeout (default
//     5 minutes) and ctx bound the whole run.
//   - A failed step is retried up to retry.max_attempts (at most 10) times,
//     except for failures that no retry can fix (VARIABLE, SECRET, POLICY).
//   - Text equality ignores case; CONTAINS and MATCHES are case-sensitive
//     (use (?i) in a pattern). Numbers compare numerically.
//   - body_size is the number of bytes read; when the body is cut at
//     Options.BodyCap it is the declared Content-Length if there was one.
//   - Regular expressions whose compiled size × input size exceeds a budget
//     are refused, since a match cannot be interrupted by the deadline.
//   - XPath (github.com/antchfx/xmlquery) gives the first selected node's text,
//     or the value of an expression such as count(//item).
//   - Assertion paths and values may hold {{variables}}; an undefined one
//     fails that assertion alone, and the others are still evaluated.
//   - Timings mean what curl's do: first_byte is request written → first
//     response byte (time_starttransfer − time_pretransfer), download first
//     byte → end of the body read (time_total − time_starttransfer). On Linux
//     both end at the kernel's receive time of the bytes (SO_TIMESTAMPNS on the
//     runner's connections, rxconn.go), not when a goroutine got to read them,
//     so a busy agent does not count its own queueing as the server's time.
//   - Timeouts name the phase that stalled: connecting, the TLS handshake,
//     waiting for the response, its headers or its body. Response headers
//     are capped at 1 MiB.
//   - Strings that servers send as invalid UTF-8 are repaired (U+FFFD) so
//     that the result is always a valid protobuf message.
//   - A run whose steps fail is FAILED; ERROR is kept for runs that could not
//     be carried out at all (no monitor in the request).
package runner
