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
//   - let a secret reach the result or a log line: passwords, their base64
//     user:pass form and bearer tokens are replaced by "[redacted]";
//   - share connections between runs: every run gets its own transports, one per
//     (client identity, ignore-certificate-errors) pair, closed when it ends.
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
//   - A run whose steps fail is FAILED; ERROR is kept for runs that could not
//     be carried out at all (no monitor in the request).
package runner
