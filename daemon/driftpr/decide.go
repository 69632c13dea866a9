package driftpr

import (
	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Action is what becomes of a cluster's drift pull request after a scan.
type Action string

// Actions.
const (
	Nothing Action = "nothing"
	Open    Action = "open"   // push the branch, open the pull request
	Update  Action = "update" // push the branch, rewrite the description
	Close   Action = "close"  // comment why, close it unmerged
)

// Existing is the newest drift pull request of the cluster's branch, as
// the forge lists it.
type Existing struct {
	Number int
	Open   bool
	Merged bool
	// Fingerprint is the proposal it carries (from its description).
	Fingerprint string
}

// Input is everything the decision rests on.
type Input struct {
	// Enabled: the spec's reconcile.driftPullRequests.
	Enabled bool
	// Mode is the spec's reconcile.drift.
	Mode string
	// Complete: the scan reached Kubernetes and Redis without an error, so
	// its drift is the whole drift. An incomplete scan decides nothing.
	Complete bool
	// Current is this scan's drift; Lasting the part the previous scan saw.
	Current, Lasting []report.DriftEntry
	// Proposal is Build over Lasting.
	Proposal Proposal
	// Latest is the branch's newest drift pull request; nil for none.
	Latest *Existing
}

// Decision is the action, and the reason said on the pull request (for a
// close) or in the log.
type Decision struct {
	Action Action
	Reason string
}

// Decide says what to do with the cluster's drift pull request. Drift is
// proposed once it lasts (seen on two consecutive scans: a roll in flight
// is not drift), and only where the spec can say the live value; a pull
// request closed unmerged is not opened again for the same proposal; one
// open is closed, with the reason, once its drift is gone.
func Decide(in Input) Decision {
	open := in.Latest != nil && in.Latest.Open
	switch {
	case !in.Complete:
		return Decision{Nothing, "the scan did not finish; its drift may be partial"}
	case !in.Enabled:
		if open {
			return Decision{Close, "spec.reconcile.driftPullRequests is off for this cluster now."}
		}
		return Decision{Nothing, "drift pull requests are off"}
	case len(in.Current) == 0:
		if open {
			return Decision{Close, goneReason(in.Mode)}
		}
		return Decision{Nothing, "no drift"}
	case len(in.Proposal.Changes) == 0:
		if open && len(in.Lasting) > 0 {
			return Decision{Close, "What this proposed is gone. The drift left is nothing the spec can say (see the status report); there is nothing for Git to catch up with."}
		}
		return Decision{Nothing, "nothing the spec can say lasts"}
	}
	fp := in.Proposal.Fingerprint()
	switch {
	case open && in.Latest.Fingerprint == fp:
		return Decision{Nothing, "the pull request is current"}
	case open:
		return Decision{Update, "the drift changed"}
	case in.Latest != nil && in.Latest.Merged && in.Latest.Fingerprint == fp:
		return Decision{Nothing, "the same proposal was merged; the daemon applies it with its revision"}
	case in.Latest != nil && in.Latest.Fingerprint == fp:
		return Decision{Nothing, "the same proposal was closed unmerged: declined"}
	}
	return Decision{Open, "drift lasts"}
}

func goneReason(mode string) string {
	if mode == spec.DriftCorrect {
		return "The drift is gone: the live cluster matches Git again. Under `drift: correct` the daemon sets drift back to what Git says; there is nothing left to propose."
	}
	return "The drift is gone: the live cluster matches Git again (it was changed back, or Git now says the same). There is nothing left to propose."
}
