//! Hierarchical timing wheel with millisecond ticks, owned by one shard.
//!
//! Six levels of 64 slots: a slot at level `L` spans 64^L ms, so the wheel
//! reaches 2^36 ms (about 2.2 years) past its current time. A timer sits at
//! the level of the highest bit in which its due time differs from the wheel's
//! time, and moves down (cascades) when the wheel reaches its slot. Timers
//! further out wait in an overflow list that is re-examined when the wheel
//! enters their 2^36 ms epoch. Timers already due when inserted wait in an
//! overdue list and fire on the next `advance`.
//!
//! Entries live in a slab and are linked into per-slot doubly linked lists by
//! index, so insert and cancel are O(1). `advance` allocates nothing of its
//! own beyond the scratch space of the stable sort that orders a batch of
//! overdue timers. A 64-bit occupancy map per level lets `advance` jump over
//! empty slots, so an idle gap of any length costs one step per occupied
//! slot, not one per tick.
//!
//! The wheel takes `&mut self` everywhere and no locks; each shard owns one.

use std::cmp::{max, min};

#[cfg(test)]
mod tests;

const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const LEVELS: usize = 6;
/// Span of the whole wheel: 2^36 ms.
const WHEEL_BITS: u32 = SLOT_BITS * LEVELS as u32;

const OVERFLOW_LIST: u16 = (LEVELS * SLOTS) as u16;
const OVERDUE_LIST: u16 = OVERFLOW_LIST + 1;
const LIST_COUNT: usize = OVERDUE_LIST as usize + 1;
/// List id of a free slab entry.
const FREE: u16 = u16::MAX;
/// Null link in the slab's lists.
const NIL: u32 = u32::MAX;

/// Handle to a pending timer. The generation makes a handle whose timer has
/// fired or been cancelled miss, even after its slab entry is reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    generation: u32,
}

struct Entry<T> {
    due_ms: u64,
    value: Option<T>,
    prev: u32,
    next: u32,
    /// Incremented (wrapping) each time the entry is freed.
    generation: u32,
    /// The list that links this entry, or `FREE`.
    list: u16,
}

#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY_LIST: List = List {
    head: NIL,
    tail: NIL,
};

/// The next step `advance` has to take.
#[derive(Clone, Copy, Debug)]
struct Expiration {
    deadline_ms: u64,
    list: u16,
}

/// Hierarchical timing wheel holding values of type `T` until their due time.
pub struct TimerWheel<T> {
    entries: Vec<Entry<T>>,
    free_head: u32,
    lists: Box<[List]>,
    /// Bit `s` of `occupied[L]` is set when slot `s` of level `L` is non-empty.
    occupied: [u64; LEVELS],
    /// Wheel time: every timer due at or before it has fired or is overdue.
    now_ms: u64,
    len: usize,
    /// Lower bound on the earliest due time in the overflow list; `u64::MAX`
    /// when empty. Cancelling the earliest entry leaves it low, which only
    /// makes the overflow list be re-examined early.
    overflow_due_min_ms: u64,
    /// Lower bound on the earliest due time in the overdue list, kept the same way.
    overdue_due_min_ms: u64,
}

impl<T> TimerWheel<T> {
    /// Creates an empty wheel whose time starts at `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self::with_capacity(now_ms, 0)
    }

    /// Creates an empty wheel with room for `capacity` timers before the slab grows.
    pub fn with_capacity(now_ms: u64, capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
            free_head: NIL,
            lists: vec![EMPTY_LIST; LIST_COUNT].into_boxed_slice(),
            occupied: [0; LEVELS],
            now_ms,
            len: 0,
            overflow_due_min_ms: u64::MAX,
            overdue_due_min_ms: u64::MAX,
        }
    }

    /// Inserts a timer due at `due_ms`, in O(1). A due time at or before the
    /// wheel's time fires on the next `advance`.
    ///
    /// # Panics
    /// When the wheel already contains `u32::MAX - 1` timers.
    pub fn insert(&mut self, due_ms: u64, value: T) -> TimerId {
        let index = self.allocate(due_ms, value);
        self.place(index);
        self.len += 1;
        TimerId {
            index,
            generation: self.entries[index as usize].generation,
        }
    }

    /// Cancels a pending timer in O(1) and returns its value, or `None` when
    /// the timer has already fired or been cancelled.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        let entry = self.entries.get(id.index as usize)?;
        if entry.generation != id.generation || entry.list == FREE {
            return None;
        }
        self.unlink(id.index);
        Some(self.release(id.index).1)
    }

    /// Advances the wheel's time to `now_ms` and appends every timer due at
    /// or before it to `fired` as `(due_ms, value)`, in due order, timers due
    /// on the same millisecond in insertion order. A `now_ms` behind the
    /// wheel's time leaves the time unchanged but still fires overdue timers.
    pub fn advance(&mut self, now_ms: u64, fired: &mut Vec<(u64, T)>) {
        let target_ms = max(now_ms, self.now_ms);
        self.fire_overdue(fired);
        while let Some(expiration) = self.next_expiration() {
            if expiration.deadline_ms > target_ms {
                break;
            }
            debug_assert!(expiration.deadline_ms >= self.now_ms);
            self.now_ms = expiration.deadline_ms;
            self.expire(expiration.list, fired);
        }
        self.now_ms = target_ms;
    }

    /// Returns the earliest time at which `advance` has work to do, or `None`
    /// when the wheel is empty. It is never later than the earliest due time,
    /// and equals it when that timer sits at level 0 (due in the wheel's
    /// current 64 ms block). Otherwise it is the start of a slot to cascade,
    /// so a shard that sleeps until this time wakes at most once per level
    /// before each timer fires.
    pub fn next_due_ms(&self) -> Option<u64> {
        if self.lists[OVERDUE_LIST as usize].head != NIL {
            return Some(self.overdue_due_min_ms);
        }
        self.next_expiration().map(|e| e.deadline_ms)
    }

    /// Returns the wheel's time: the latest `now_ms` given to `new` or `advance`.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Returns the number of pending timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Returns whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes a free slab entry, or grows the slab, and fills it.
    fn allocate(&mut self, due_ms: u64, value: T) -> u32 {
        if self.free_head != NIL {
            let index = self.free_head;
            let entry = &mut self.entries[index as usize];
            debug_assert_eq!(entry.list, FREE);
            self.free_head = entry.next;
            entry.due_ms = due_ms;
            entry.value = Some(value);
            return index;
        }
        let index = u32::try_from(self.entries.len())
            .ok()
            .filter(|&i| i != NIL)
            .expect("timer wheel is full: u32::MAX - 1 pending timers");
        self.entries.push(Entry {
            due_ms,
            value: Some(value),
            prev: NIL,
            next: NIL,
            generation: 0,
            list: FREE,
        });
        index
    }

    /// Frees an unlinked entry and returns its due time and value.
    fn release(&mut self, index: u32) -> (u64, T) {
        let entry = &mut self.entries[index as usize];
        let value = entry
            .value
            .take()
            .expect("a linked timer entry has a value");
        entry.generation = entry.generation.wrapping_add(1);
        entry.list = FREE;
        entry.prev = NIL;
        entry.next = self.free_head;
        self.free_head = index;
        self.len -= 1;
        (entry.due_ms, value)
    }

    /// Links an entry into the list its due time calls for at the wheel's time.
    fn place(&mut self, index: u32) {
        let due_ms = self.entries[index as usize].due_ms;
        if due_ms < self.now_ms {
            self.overdue_due_min_ms = min(self.overdue_due_min_ms, due_ms);
            self.link(OVERDUE_LIST, index);
            return;
        }
        match level_for(self.now_ms, due_ms) {
            Some(level) => {
                let slot = slot_for(due_ms, level);
                self.occupied[level] |= 1 << slot;
                self.link((level * SLOTS + slot) as u16, index);
            }
            None => {
                self.overflow_due_min_ms = min(self.overflow_due_min_ms, due_ms);
                self.link(OVERFLOW_LIST, index);
            }
        }
    }

    /// Appends an entry to the tail of a list.
    fn link(&mut self, list: u16, index: u32) {
        let tail = self.lists[list as usize].tail;
        let entry = &mut self.entries[index as usize];
        entry.list = list;
        entry.prev = tail;
        entry.next = NIL;
        if tail == NIL {
            self.lists[list as usize].head = index;
        } else {
            self.entries[tail as usize].next = index;
        }
        self.lists[list as usize].tail = index;
    }

    /// Removes an entry from its list, clearing the list's occupancy bit or
    /// lower bound when it becomes empty.
    fn unlink(&mut self, index: u32) {
        let Entry {
            prev, next, list, ..
        } = self.entries[index as usize];
        if prev == NIL {
            self.lists[list as usize].head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NIL {
            self.lists[list as usize].tail = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
        if self.lists[list as usize].head == NIL {
            self.clear_list_summary(list);
        }
    }

    /// Detaches a whole list and returns its head; its entries keep stale links.
    fn take_list(&mut self, list: u16) -> u32 {
        let head = self.lists[list as usize].head;
        self.lists[list as usize] = EMPTY_LIST;
        self.clear_list_summary(list);
        head
    }

    fn clear_list_summary(&mut self, list: u16) {
        match list {
            OVERFLOW_LIST => self.overflow_due_min_ms = u64::MAX,
            OVERDUE_LIST => self.overdue_due_min_ms = u64::MAX,
            slot_list => {
                let level = slot_list as usize / SLOTS;
                self.occupied[level] &= !(1 << (slot_list as usize % SLOTS));
            }
        }
    }

    /// Fires the overdue list, sorted by due time. The sort is stable, so
    /// timers due on the same millisecond keep their insertion order.
    fn fire_overdue(&mut self, fired: &mut Vec<(u64, T)>) {
        if self.lists[OVERDUE_LIST as usize].head == NIL {
            return;
        }
        let start = fired.len();
        let mut index = self.take_list(OVERDUE_LIST);
        while index != NIL {
            let next = self.entries[index as usize].next;
            fired.push(self.release(index));
            index = next;
        }
        fired[start..].sort_by_key(|&(due_ms, _)| due_ms);
    }

    /// Handles the list whose deadline the wheel has just reached: fires a
    /// level-0 slot, and re-places the entries of a higher slot or of the
    /// overflow list relative to the new wheel time.
    fn expire(&mut self, list: u16, fired: &mut Vec<(u64, T)>) {
        let fire = (list as usize) < SLOTS;
        let mut index = self.take_list(list);
        while index != NIL {
            let next = self.entries[index as usize].next;
            if fire {
                debug_assert_eq!(self.entries[index as usize].due_ms, self.now_ms);
                fired.push(self.release(index));
            } else {
                self.place(index);
            }
            index = next;
        }
    }

    /// Finds the earliest non-empty slot, or the overflow epoch to re-examine.
    /// Lower levels come first: every timer at level `L` is due before any
    /// timer at a higher level, and every wheel timer before any overflow one.
    fn next_expiration(&self) -> Option<Expiration> {
        for level in 0..LEVELS {
            // No occupied slot lies before the wheel's own slot at this level,
            // because a timer there would differ from the wheel time at a
            // higher bit and so sit at a higher level.
            let position = slot_for(self.now_ms, level);
            let ahead = self.occupied[level] & (u64::MAX << position);
            debug_assert_eq!(ahead, self.occupied[level]);
            if ahead == 0 {
                continue;
            }
            let slot = ahead.trailing_zeros() as usize;
            let level_start_ms = self.now_ms & !(span_ms(level + 1) - 1);
            return Some(Expiration {
                deadline_ms: level_start_ms + slot as u64 * span_ms(level),
                list: (level * SLOTS + slot) as u16,
            });
        }
        if self.lists[OVERFLOW_LIST as usize].head == NIL {
            return None;
        }
        // The bound's epoch always lies past the wheel's: `advance` stops at
        // the epoch start before the wheel time can enter it.
        let epoch_start_ms = self.overflow_due_min_ms & !(span_ms(LEVELS) - 1);
        debug_assert!(epoch_start_ms > self.now_ms);
        Some(Expiration {
            deadline_ms: epoch_start_ms,
            list: OVERFLOW_LIST,
        })
    }
}

/// Returns the level for a timer due at `due_ms >= now_ms`, or `None` when it
/// lies in a later 2^36 ms epoch than `now_ms`.
fn level_for(now_ms: u64, due_ms: u64) -> Option<usize> {
    let differing = (now_ms ^ due_ms) | (SLOTS as u64 - 1);
    if differing >> WHEEL_BITS != 0 {
        return None;
    }
    let highest_bit = 63 - differing.leading_zeros();
    Some((highest_bit / SLOT_BITS) as usize)
}

/// Returns the slot a time falls in at `level`.
fn slot_for(time_ms: u64, level: usize) -> usize {
    ((time_ms >> (level as u32 * SLOT_BITS)) & (SLOTS as u64 - 1)) as usize
}

/// Returns the span of one slot at `level`, in ms; `span_ms(LEVELS)` is the
/// span of the whole wheel.
fn span_ms(level: usize) -> u64 {
    1 << (level as u32 * SLOT_BITS)
}
