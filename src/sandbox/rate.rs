//! Rate windows shared by the sandboxes: a rolling window of call times per key (a token, an
//! app), and a plain count per key for budgets that never roll (a daily limit counted from
//! start). Windows run on real time, not the sandbox clock, so a test can make them short and
//! simply wait. Which calls count, under which key, and what a refused call is answered is
//! each CRM's policy (`sandbox::<crm>`); this module only counts.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The times of the calls made within one rolling window, oldest first.
#[derive(Debug, Default)]
pub struct RollingWindow {
    hits: VecDeque<Instant>,
}

impl RollingWindow {
    /// Forgets the calls that have left the window.
    fn evict(&mut self, now: Instant, window: Duration) {
        while self
            .hits
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.hits.pop_front();
        }
    }

    /// Records a call if there is room; returns `(allowed, remaining after this call)`.
    pub fn hit(&mut self, max: u32, window: Duration) -> (bool, u32) {
        let now = Instant::now();
        self.evict(now, window);
        if self.hits.len() as u32 >= max {
            return (false, 0);
        }
        self.hits.push_back(now);
        (true, max - self.hits.len() as u32)
    }

    /// Calls still allowed in the window, without counting one.
    pub fn remaining(&mut self, max: u32, window: Duration) -> u32 {
        self.evict(Instant::now(), window);
        max.saturating_sub(self.hits.len() as u32)
    }
}

/// One limit, `max` calls per rolling `window`, kept apart for every key.
#[derive(Debug)]
pub struct RateWindows {
    max: u32,
    window: Duration,
    by_key: HashMap<String, RollingWindow>,
}

impl RateWindows {
    pub fn new(max: u32, window: Duration) -> Self {
        RateWindows {
            max,
            window,
            by_key: HashMap::new(),
        }
    }

    pub fn max(&self) -> u32 {
        self.max
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Changes the limit; counting restarts for every key.
    pub fn reset(&mut self, max: u32, window: Duration) {
        self.max = max;
        self.window = window;
        self.by_key.clear();
    }

    /// Records a call under `key` if there is room; returns `(allowed, remaining after it)`.
    pub fn hit(&mut self, key: &str) -> (bool, u32) {
        let (max, window) = (self.max, self.window);
        self.window_of(key).hit(max, window)
    }

    /// Calls `key` may still make in the window, without counting one.
    pub fn remaining(&mut self, key: &str) -> u32 {
        let (max, window) = (self.max, self.window);
        self.window_of(key).remaining(max, window)
    }

    fn window_of(&mut self, key: &str) -> &mut RollingWindow {
        self.by_key.entry(key.to_string()).or_default()
    }
}

/// Calls counted per key since start; the count never rolls over.
#[derive(Debug, Default)]
pub struct CallCounter {
    by_key: HashMap<String, u64>,
}

impl CallCounter {
    /// Counts one call under `key`; returns the count including it.
    pub fn count(&mut self, key: &str) -> u64 {
        let n = self.by_key.entry(key.to_string()).or_default();
        *n += 1;
        *n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_refuses_past_its_max_and_frees_room_as_calls_age_out() {
        let mut w = RateWindows::new(2, Duration::from_millis(50));
        assert_eq!(w.hit("a"), (true, 1));
        assert_eq!(w.hit("a"), (true, 0));
        assert_eq!(w.hit("a"), (false, 0));
        assert_eq!(w.hit("b"), (true, 1), "each key has its own window");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(w.remaining("a"), 2);
    }
}
