//! Selection within a chosen pool: weighted sample, all (shuffled) or rendezvous hash.

use rand::Rng;

use super::eligibility::{Group, Judge};
use super::eval::Eval;
use super::explain::{Event, PickReason, ScopeInput};
use super::model::{Member, Selection};
use super::rendezvous::{ClientKey, answer_hash, score};

/// Uniform integer in `0..n` (n > 0) by widening multiplication: deterministic per seed.
pub(crate) fn below<R: Rng + ?Sized>(rng: &mut R, n: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
}

impl<'a, R: Rng + ?Sized> Eval<'a, '_, R> {
    /// Answers from an up group with its pool's selection, capped by `max_answers`.
    pub(crate) fn select(&mut self, g: Group<'a>, judge: Judge<'a>) {
        let cands = judge.candidates(g);
        let cap = self.service.cap(g.pool.selection, self.want);
        match g.pool.selection {
            Selection::All => self.take_all(cands, cap),
            Selection::Weighted => self.draw_weighted(cands, cap),
            Selection::Hash => self.take_hashed(cands, cap),
        }
    }

    fn fresh(&self, m: &Member) -> bool {
        !self.answers.contains(&m.answer)
    }

    /// Weighted random sample without replacement, up to `cap` distinct answers.
    pub(crate) fn draw_weighted<I>(&mut self, cands: I, cap: usize)
    where
        I: Iterator<Item = (&'a Member, u32)> + Clone,
    {
        while self.answers.len() < cap {
            let total: u64 = cands
                .clone()
                .filter(|(m, _)| self.fresh(m))
                .map(|(_, w)| u64::from(w))
                .sum();
            if total == 0 {
                return;
            }
            let mut r = below(self.rng, total);
            let mut picked = None;
            for (m, w) in cands.clone().filter(|(m, _)| self.fresh(m)) {
                if r < u64::from(w) {
                    picked = Some((m, w));
                    break;
                }
                r -= u64::from(w);
            }
            let Some((m, weight)) = picked else {
                return;
            };
            self.note(|| Event::Picked {
                answer: m.answer.clone(),
                reason: PickReason::Weighted { weight, total },
            });
            self.answers.push(m.answer.clone());
        }
    }

    /// Every usable member (distinct answers), shuffled, then the first `cap`.
    pub(crate) fn take_all<I>(&mut self, cands: I, cap: usize)
    where
        I: Iterator<Item = (&'a Member, u32)> + Clone,
    {
        let start = self.answers.len();
        for (m, _) in cands {
            if self.fresh(m) {
                self.answers.push(m.answer.clone());
            }
        }
        let n = self.answers.len() - start;
        let keep = cap.min(n);
        for i in 0..keep {
            let j = i + below(self.rng, (n - i) as u64) as usize;
            self.answers.swap(start + i, start + j);
        }
        self.answers.truncate(start + keep);
        if self.tracing() {
            for i in start..self.answers.len() {
                let answer = self.answers[i].clone();
                self.note(|| Event::Picked {
                    answer,
                    reason: PickReason::All,
                });
            }
        }
    }

    /// The `cap` highest weighted rendezvous scores for the client subnet.
    pub(crate) fn take_hashed<I>(&mut self, cands: I, cap: usize)
    where
        I: Iterator<Item = (&'a Member, u32)> + Clone,
    {
        let key = ClientKey::new(self.client.addr, self.client.source_prefix);
        if cands.clone().nth(cap).is_some() {
            // More candidates than answers: which ones depends on the client subnet.
            self.need(ScopeInput::HashedSubnet, key.prefix);
        }
        for _ in 0..cap {
            let best = cands
                .clone()
                .filter(|(m, _)| self.fresh(m))
                .map(|(m, w)| (m, w, score(key.hash, answer_hash(&m.answer), w)))
                .fold(None, |best: Option<(&Member, u32, f64)>, c| match best {
                    Some(b) if b.2 >= c.2 => Some(b),
                    _ => Some(c),
                });
            let Some((m, weight, _)) = best else {
                return;
            };
            self.note(|| Event::Picked {
                answer: m.answer.clone(),
                reason: PickReason::Hash {
                    subnet: key.addr,
                    prefix: key.prefix,
                    weight,
                },
            });
            self.answers.push(m.answer.clone());
        }
    }
}
