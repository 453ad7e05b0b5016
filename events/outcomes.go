package events

import (
	"context"
	"sync"
)

// OutcomeReporter stores fragment outcomes in FRAGMENT_STATUS with group commit. An
// outcome reported while no report is being stored goes out at once, alone; outcomes
// reported meanwhile wait for that store and then go out together, in one message. An
// idle executor-proxy so adds no latency, and a busy one pays one store per round trip
// instead of one per fragment.
type OutcomeReporter struct {
	pub   *Publisher
	nonce string // this reporter's, in its messages' IDs

	mu       sync.Mutex
	pending  FragmentOutcomes
	waiters  []chan error
	flushing bool // a flush goroutine is storing reports; it stores what is pending too
	seq      uint64
}

// NewOutcomeReporter returns a reporter that publishes through pub.
func NewOutcomeReporter(pub *Publisher) *OutcomeReporter {
	return &OutcomeReporter{pub: pub, nonce: NewNonce()}
}

// Done reports a finished fragment and returns once the report carrying it is stored.
func (r *OutcomeReporter) Done(ctx context.Context, d FragmentDone) error {
	return r.report(ctx, func(o *FragmentOutcomes) { o.Done = append(o.Done, d) })
}

// Failed reports a failed fragment and returns once the report carrying it is stored.
func (r *OutcomeReporter) Failed(ctx context.Context, f FragmentFailed) error {
	return r.report(ctx, func(o *FragmentOutcomes) { o.Failed = append(o.Failed, f) })
}

func (r *OutcomeReporter) report(ctx context.Context, add func(*FragmentOutcomes)) error {
	stored := make(chan error, 1)
	r.mu.Lock()
	add(&r.pending)
	r.waiters = append(r.waiters, stored)
	lead := !r.flushing
	r.flushing = true
	r.mu.Unlock()
	if lead {
		// Its own goroutine: a caller waits for its report only, not for the reports
		// that keep arriving under load.
		go r.flush(context.WithoutCancel(ctx))
	}
	select {
	case err := <-stored:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush stores what is pending, one message at a time, until nothing is.
func (r *OutcomeReporter) flush(ctx context.Context) {
	for {
		r.mu.Lock()
		batch, waiters := r.pending, r.waiters
		r.pending, r.waiters = FragmentOutcomes{}, nil
		if batch.Len() == 0 {
			r.flushing = false
			r.mu.Unlock()
			return
		}
		r.seq++
		msgID := MsgIDFragmentOutcomes(r.nonce, r.seq)
		r.mu.Unlock()
		query := ""
		if len(batch.Done) > 0 {
			query = batch.Done[0].QueryID
		} else {
			query = batch.Failed[0].QueryID
		}
		_, err := r.pub.Publish(ctx, SubjectFragmentOutcomes, msgID, query, TypeFragmentOutcomes, batch)
		for _, w := range waiters {
			w <- err
		}
	}
}
