// Package collect owns what collectors read from the controller beyond the raw result stream:
// scoped API tokens' gRPC service (TokenService), queries over stored results and hourly rollups
// (QueryService, and the same queries as plain functions for the web console), the per-monitor
// Prometheus series (probe_success and friends) kept in memory from stored results, and the OTLP
// trace export of results.
//
// It never returns or logs a token's secret after it is made, never puts a secret value in a
// metric label, a query answer or a span attribute (results arrive already redacted by the agent;
// URLs are stripped of their query and user info again here), and never scans the result store on
// a Prometheus scrape.
package collect
