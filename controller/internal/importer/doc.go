// Package importer translates Uptrends Multi-step API monitors, as the
// Uptrends API returns them, into Lookout monitors, and Lookout monitors back
// into that JSON.
//
// It owns the Uptrends side of the mapping: both generations of the format
// (steps in a top-level MsaSteps array, or in the MultiStepApiTransactionScript
// JSON string), every Uptrends enum the importer knows, and the report of what
// a monitor holds that Lookout cannot express, each entry named by its JSON
// path. Convert is deterministic: the same input and options give the same
// monitors, in the same order, with the same report.
//
// The package only translates. It never talks to the controller, the vault or
// a checkpoint: what it needs to know about them (vault item names, the
// checkpoints that exist) it asks a Lookup the caller provides, and the inline
// credentials it finds it hands back for the caller to store. It must never
// put a password into a monitor, a report or an error.
package importer
