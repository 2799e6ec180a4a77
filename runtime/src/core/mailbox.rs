//! A bounded FIFO: the mailbox of an agent.
//!
//! Bounded so a slow agent produces backpressure (the sender gets its message
//! back with [`Full`]) instead of unbounded memory growth: by a count of
//! messages, and by the bytes they hold (the agent's mailbox budget, see
//! [`super::budget`]). A batch taken out to be handled still counts until
//! the next one is taken ([`Mailbox::pop_batch`]): the host holds its
//! copy until the call is over.

use std::collections::VecDeque;

/// The mailbox was full; the message is handed back to the sender.
#[derive(Debug, PartialEq, Eq)]
pub struct Full<T>(pub T);

/// What a queued item costs the host, in bytes.
pub trait Weight {
    /// Bytes held for the item, bookkeeping included.
    fn weight(&self) -> usize;
}

/// A FIFO queue with a hard capacity in messages and in bytes.
#[derive(Debug)]
pub struct Mailbox<T> {
    queue: VecDeque<T>,
    capacity: usize,
    max_bytes: usize,
    /// Bytes of the queued items.
    queued: usize,
    /// Bytes of the batch taken last (still held while it is handled).
    taken: usize,
}

impl<T: Weight> Mailbox<T> {
    /// An empty mailbox holding at most `capacity` messages and `max_bytes`
    /// bytes (an empty one takes one message whatever its size). Storage
    /// grows on demand, so an idle agent costs no queue memory.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Mailbox {
            queue: VecDeque::new(),
            capacity,
            max_bytes,
            queued: 0,
            taken: 0,
        }
    }

    /// Appends `item`, or hands it back if the mailbox is full (by count,
    /// or by bytes unless it is empty).
    pub fn push(&mut self, item: T) -> Result<(), Full<T>> {
        if self.queue.len() >= self.capacity {
            return Err(Full(item));
        }
        let weight = item.weight();
        let held = self.queued + self.taken;
        if held > 0 && held.saturating_add(weight) > self.max_bytes {
            return Err(Full(item));
        }
        self.queued += weight;
        self.queue.push_back(item);
        Ok(())
    }

    /// Puts items back at the front, in order (a batch that must be retried).
    /// May exceed the capacity: these were already accepted once.
    pub fn push_front_all(&mut self, items: impl DoubleEndedIterator<Item = T>) {
        for item in items.rev() {
            self.queued += item.weight();
            self.queue.push_front(item);
        }
    }

    /// Takes up to `max` messages from the front. The previous batch is
    /// taken to be done with; this one counts against the bytes until the
    /// next call.
    pub fn pop_batch(&mut self, max: usize) -> Vec<T> {
        let n = max.min(self.queue.len());
        let batch: Vec<T> = self.queue.drain(..n).collect();
        self.taken = batch.iter().map(Weight::weight).sum();
        self.queued -= self.taken;
        batch
    }

    /// Takes everything.
    pub fn drain_all(&mut self) -> Vec<T> {
        self.queued = 0;
        self.queue.drain(..).collect()
    }

    /// Bytes held: queued plus the batch being handled.
    pub fn bytes(&self) -> usize {
        self.queued + self.taken
    }

    /// The most bytes it takes (beyond one message into an empty mailbox).
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The drain is done: the batch in hand is no longer held, and storage
    /// after a burst is released, so idle agents stay small.
    pub fn shrink(&mut self) {
        self.taken = 0;
        if self.queue.is_empty() && self.queue.capacity() > 16 {
            self.queue = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Weight for i32 {
        fn weight(&self) -> usize {
            *self as usize
        }
    }

    #[test]
    fn full_mailbox_hands_the_message_back() {
        let mut mb = Mailbox::new(2, 1000);
        assert!(mb.push(1).is_ok());
        assert!(mb.push(2).is_ok());
        assert_eq!(mb.push(3), Err(Full(3)));
        assert_eq!(mb.pop_batch(5), vec![1, 2]);
        assert!(mb.is_empty());
    }

    #[test]
    fn batches_keep_order_and_can_be_put_back() {
        let mut mb = Mailbox::new(10, 1000);
        for i in 0..5 {
            mb.push(i).unwrap();
        }
        let batch = mb.pop_batch(3);
        assert_eq!(batch, vec![0, 1, 2]);
        mb.push_front_all(batch.into_iter());
        assert_eq!(mb.drain_all(), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn bytes_bound_the_mailbox_and_the_batch_in_hand_counts() {
        let mut mb = Mailbox::new(100, 10);
        // An empty mailbox takes one message of any size.
        mb.push(50).unwrap();
        assert_eq!(mb.push(1), Err(Full(1)));
        assert_eq!(mb.pop_batch(10), vec![50]);
        // The batch being handled still counts...
        assert_eq!(mb.bytes(), 50);
        assert_eq!(mb.push(1), Err(Full(1)));
        // ... until the drain is done with it.
        mb.shrink();
        for i in [4, 3, 3] {
            mb.push(i).unwrap();
        }
        assert_eq!(mb.push(1), Err(Full(1)));
        assert_eq!(mb.pop_batch(2), vec![4, 3]);
        assert_eq!(mb.bytes(), 10);
        assert_eq!(mb.pop_batch(2), vec![3]);
        assert_eq!(mb.bytes(), 3);
        mb.push_front_all(vec![3].into_iter());
        assert_eq!(mb.bytes(), 6);
        assert_eq!(mb.drain_all(), vec![3]);
        assert_eq!(mb.bytes(), 3);
    }
}
