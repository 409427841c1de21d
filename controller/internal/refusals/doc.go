// Package refusals keeps refused calls from flooding the controller: agents' calls, and the
// tokens, enrollment tokens, monitor files and archive passwords of people and programs that the
// controller refused. It merges the audit entries of one identity's refusals of one kind within
// an interval into one entry with a count, folds identities beyond a bound into one, tells the API
// when an identity has been refused so often that its calls should be turned away before they
// reach the store, and samples log lines about unauthenticated callers.
//
// It owns no storage: entries go to the audit function it is given. It never drops the first
// refusal of an identity and kind in an interval (beyond the bound, of "other sources"), and never
// loses a count: what it merged is written at the interval's end and on Flush at shutdown.
package refusals
