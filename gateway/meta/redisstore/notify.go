package redisstore

import (
	"context"
	"time"
)

// changesChannel is the pub/sub channel on which instances announce changed
// access keys (and other cached records), so caches elsewhere drop them.
func (s *Store) changesChannel() string { return s.k.ns + "changes" }

// PublishChange announces that the record named id changed. Errors are
// logged by nobody: a lost message costs at most the cache's TTL.
func (s *Store) PublishChange(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = s.rdb.Publish(ctx, s.changesChannel(), id).Err()
}

// SubscribeChanges delivers the IDs other instances publish with
// PublishChange until ctx ends; the channel is then closed. The
// subscription reconnects by itself after a Redis outage.
func (s *Store) SubscribeChanges(ctx context.Context) <-chan string {
	out := make(chan string, 256)
	sub := s.rdb.Subscribe(ctx, s.changesChannel())
	go func() {
		defer close(out)
		defer sub.Close()
		ch := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				select {
				case out <- m.Payload:
				default: // a full buffer only delays invalidation to the TTL
				}
			}
		}
	}()
	return out
}
