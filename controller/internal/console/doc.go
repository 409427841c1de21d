// Package console serves Lookout's web console (DESIGN §10): server-rendered pages of monitors,
// checkpoints, runs, vault metadata and the audit log, live updates of the overview by
// Server-Sent Events, and the admin actions "run now" and "pause/resume".
//
// It owns the browser session (a random id in an HttpOnly, SameSite=Strict cookie, with a CSRF
// token for every form that changes something), the page templates and their embedded stylesheet
// and script, the SVG charts, and a bounded in-memory index of the latest result per monitor ×
// checkpoint and the recent runs per monitor, fed by the controller's result notifications.
//
// It reads and acts only through small interfaces declared here (Backend is the admin API, in
// process), so what other parts provide (scoped tokens, alerts, uptime) plugs in when wired.
// It must never show secret material (vault data, passwords, tokens), never put a token in a URL
// or a log line, never render text a monitored API, an agent or a user wrote without escaping,
// and never write to the store itself.
package console
