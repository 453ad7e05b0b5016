// Package lease elects one leader among replicas through a key in a JetStream KV bucket
// whose TTL expires an abandoned lease. The revision of the key is the leader's fencing
// token: writes made by a leader carry it, and a leader stops deciding as soon as a renewal
// fails.
package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrLost: the lease was taken over or could not be renewed.
var ErrLost = errors.New("lease: lost")

// Term is one leadership term.
type Term struct {
	// Revision of the lease key when the term began: the fencing token.
	Revision uint64
	// Holder is this replica's identity.
	Holder string
}

// Campaign loops until ctx ends: it acquires the lease key in kv, calls lead with a context
// that is canceled the moment the lease is lost, and renews the lease every renew interval
// while lead runs. The bucket's TTL must be several renew intervals long.
func Campaign(ctx context.Context, kv jetstream.KeyValue, key, holder string, renew time.Duration, lead func(ctx context.Context, t Term)) error {
	for ctx.Err() == nil {
		rev, err := kv.Create(ctx, key, []byte(holder))
		if err != nil {
			if !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
				if !sleep(ctx, renew) {
					break
				}
				continue
			}
			if err := waitFree(ctx, kv, key, renew); err != nil {
				break
			}
			continue
		}
		hold(ctx, kv, key, holder, rev, renew, lead)
	}
	return ctx.Err()
}

// hold runs lead while renewing the lease; returns when the lease is lost or lead returned.
func hold(ctx context.Context, kv jetstream.KeyValue, key, holder string, rev uint64, renew time.Duration, lead func(context.Context, Term)) {
	termCtx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(termCtx, Term{Revision: rev, Holder: holder})
	}()
	t := time.NewTicker(renew)
	defer t.Stop()
	cur := rev
	for {
		select {
		case <-done:
			cancel(nil)
			// Step down: free the lease for another replica right away.
			_ = kv.Delete(context.WithoutCancel(ctx), key, jetstream.LastRevision(cur))
			return
		case <-ctx.Done():
			cancel(ctx.Err())
			<-done
			dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = kv.Delete(dctx, key, jetstream.LastRevision(cur))
			dcancel()
			return
		case <-t.C:
			rctx, rcancel := context.WithTimeout(ctx, renew)
			next, err := kv.Update(rctx, key, []byte(holder), cur)
			rcancel()
			if err != nil {
				cancel(fmt.Errorf("%w: %v", ErrLost, err))
				<-done
				return
			}
			cur = next
		}
	}
}

// waitFree blocks until key is deleted or expires, or a renew interval passes.
func waitFree(ctx context.Context, kv jetstream.KeyValue, key string, renew time.Duration) error {
	w, err := kv.Watch(ctx, key, jetstream.UpdatesOnly())
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	t := time.NewTimer(renew * 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e != nil && (e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge) {
				return nil
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
