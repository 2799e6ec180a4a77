//! A bounded FIFO: the mailbox of an agent.
//!
//! Bounded so a slow agent produces backpressure (the sender gets its message
//! back with [`Full`]) instead of unbounded memory growth.

use std::collections::VecDeque;

/// The mailbox was full; the message is handed back to the sender.
#[derive(Debug, PartialEq, Eq)]
pub struct Full<T>(pub T);

/// A FIFO queue with a hard capacity.
#[derive(Debug)]
pub struct Mailbox<T> {
    queue: VecDeque<T>,
    capacity: usize,
}

impl<T> Mailbox<T> {
    /// An empty mailbox holding at most `capacity` messages. Storage grows
    /// on demand, so an idle agent costs no queue memory.
    pub fn new(capacity: usize) -> Self {
        Mailbox {
            queue: VecDeque::new(),
            capacity,
        }
    }

    /// Appends `item`, or hands it back if the mailbox is full.
    pub fn push(&mut self, item: T) -> Result<(), Full<T>> {
        if self.queue.len() >= self.capacity {
            return Err(Full(item));
        }
        self.queue.push_back(item);
        Ok(())
    }

    /// Puts items back at the front, in order (a batch that must be retried).
    /// May exceed the capacity: these were already accepted once.
    pub fn push_front_all(&mut self, items: impl DoubleEndedIterator<Item = T>) {
        for item in items.rev() {
            self.queue.push_front(item);
        }
    }

    /// Takes up to `max` messages from the front.
    pub fn pop_batch(&mut self, max: usize) -> Vec<T> {
        let n = max.min(self.queue.len());
        self.queue.drain(..n).collect()
    }

    /// Takes everything.
    pub fn drain_all(&mut self) -> Vec<T> {
        self.queue.drain(..).collect()
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Releases storage after a burst, so idle agents stay small.
    pub fn shrink(&mut self) {
        if self.queue.is_empty() && self.queue.capacity() > 16 {
            self.queue = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_mailbox_hands_the_message_back() {
        let mut mb = Mailbox::new(2);
        assert!(mb.push(1).is_ok());
        assert!(mb.push(2).is_ok());
        assert_eq!(mb.push(3), Err(Full(3)));
        assert_eq!(mb.pop_batch(5), vec![1, 2]);
        assert!(mb.is_empty());
    }

    #[test]
    fn batches_keep_order_and_can_be_put_back() {
        let mut mb = Mailbox::new(10);
        for i in 0..5 {
            mb.push(i).unwrap();
        }
        let batch = mb.pop_batch(3);
        assert_eq!(batch, vec![0, 1, 2]);
        mb.push_front_all(batch.into_iter());
        assert_eq!(mb.drain_all(), vec![0, 1, 2, 3, 4]);
    }
}
