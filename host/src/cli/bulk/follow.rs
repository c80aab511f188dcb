//! Following a bulk run: the queue's notifier says which jobs finished,
//! the states are read again after a gap, finished records are written in
//! input order as the front grows, progress on stderr.

use deckhand::queue::{Listener, Notice};

use super::*;

/// Pause before trying Redis again after a failed read or write.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

impl Run<'_> {
    /// Follows the jobs until all have finished, the timeout passes or the
    /// user interrupts; writes finished records as the prefix grows.
    /// `listening`: a listener made before the jobs were submitted, which
    /// has heard every end since (so the states need no reading).
    pub(super) async fn follow(
        &mut self,
        out: &mut impl Write,
        listening: Option<Listener>,
    ) -> Option<Stop> {
        let deadline = deckhand::queue::deadline_after(Duration::from_secs(self.args.timeout));
        let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
        let mut finished = match listening {
            Some(listener) => listener,
            None => loop {
                // Listen, then read: a job that ends in between is seen by one or the other.
                match self.queue.listen(Topic::Finished).await {
                    Ok(listener) => {
                        self.recheck_until_read().await;
                        break listener;
                    }
                    Err(e) => eprintln!("deckhand: cannot reach Redis ({e}); retrying"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = tokio::time::sleep_until(deadline) => return Some(Stop::Timeout),
                    _ = &mut interrupt => return Some(Stop::Interrupted),
                }
            },
        };
        self.follow_notices(out, &mut finished, deadline, &mut interrupt)
            .await
    }

    /// Reads the open jobs' states until Redis answers.
    async fn recheck_until_read(&mut self) {
        while let Err(e) = self.recheck().await {
            eprintln!("deckhand: cannot read the jobs' states ({e}); trying again");
            // Not at once: a Redis that came back empty needs a moment
            // for the hosts to register their job types again.
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// Follows the run until it ends; finished records are read back and
    /// written `WRITE_CHUNK` at a time, or every `WRITE_EVERY`.
    async fn follow_notices<F: std::future::Future>(
        &mut self,
        out: &mut impl Write,
        finished: &mut Listener,
        deadline: tokio::time::Instant,
        interrupt: &mut std::pin::Pin<&mut F>,
    ) -> Option<Stop> {
        let bar = progress_bar(self.ids.len());
        let mut last_line = None;
        let mut recheck_at = tokio::time::Instant::now() + RECHECK;
        let mut write_at = tokio::time::Instant::now();
        loop {
            self.report(&bar, &mut last_line);
            let due = tokio::time::Instant::now() >= write_at;
            if due || self.ready() >= WRITE_CHUNK || self.finished == self.ids.len() {
                write_at = tokio::time::Instant::now() + WRITE_EVERY;
                if let Err(e) = self.write_finished(out).await {
                    eprintln!("deckhand: lost Redis while writing results ({e}); trying again");
                    write_at = tokio::time::Instant::now() + RETRY_PAUSE;
                }
            }
            // Done once every result is written, not when every job is
            // marked finished: a result Redis lost is run again.
            if self.written == self.ids.len() {
                clear(&bar);
                return None;
            }
            let waiting = self.ready() > 0;
            tokio::select! {
                notice = finished.recv() => match notice {
                    Notice::Message(ended) => self.mark(ended.ids()),
                    // Messages were missed (the connection was made again):
                    // read the open jobs' states.
                    Notice::Missed => recheck_at = tokio::time::Instant::now(),
                },
                _ = tokio::time::sleep_until(write_at), if waiting => {}
                _ = tokio::time::sleep_until(recheck_at) => {
                    recheck_at = tokio::time::Instant::now() + RECHECK;
                    if let Err(e) = self.recheck().await {
                        eprintln!("deckhand: lost Redis ({e}); trying again");
                        recheck_at = tokio::time::Instant::now() + RETRY_PAUSE;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    clear(&bar);
                    return Some(Stop::Timeout);
                }
                _ = interrupt.as_mut() => {
                    clear(&bar);
                    return Some(Stop::Interrupted);
                }
            }
        }
    }

    /// Finished records at the front of the output order, not yet written.
    fn ready(&mut self) -> usize {
        self.front = self.front.max(self.written);
        while self.front < self.ids.len() && self.done[self.front] {
            self.front += 1;
        }
        self.front - self.written
    }

    /// Marks the named jobs finished (ids of other runs are ignored).
    fn mark<'s>(&mut self, ids: impl Iterator<Item = &'s str>) {
        for id in ids {
            if let Some(i) = self.own_record(id) {
                self.mark_record(i);
            }
            if let Some(records) = self.attached.get(id) {
                for i in records.clone() {
                    self.mark_record(i);
                }
            }
        }
    }

    pub(super) fn mark_record(&mut self, i: usize) {
        if !self.done[i] {
            self.done[i] = true;
            self.finished += 1;
        }
    }

    /// Reads the state of every open job in pipelined round trips; jobs
    /// Redis no longer has (it lost its data) are submitted again.
    async fn recheck(&mut self) -> Result<(), QueueError> {
        let open: Vec<usize> = (0..self.ids.len()).filter(|&i| !self.done[i]).collect();
        let open_ids: Vec<String> = open.iter().map(|&i| self.followed[i].clone()).collect();
        let states = self.queue.statuses(&open_ids).await?;
        let mut lost = Vec::new();
        self.suspended = 0;
        for (&i, state) in open.iter().zip(states) {
            match state {
                Some(s) if s.is_finished() => self.mark_record(i),
                Some(JobStatus::Suspended) => self.suspended += 1,
                Some(_) => {}
                None => lost.push(i),
            }
        }
        if !lost.is_empty() {
            eprintln!(
                "deckhand: Redis no longer has {} of this run's jobs (it lost data); submitting them again",
                lost.len()
            );
            self.submit_indices(&lost)
                .await
                .map_err(QueueError::Protocol)?;
        }
        Ok(())
    }

    /// Moves the bar, or prints a line every few seconds when stderr is
    /// not a terminal (logs, CI).
    fn report(
        &self,
        bar: &Option<indicatif::ProgressBar>,
        last: &mut Option<tokio::time::Instant>,
    ) {
        let due = last.is_none_or(|at| at.elapsed() >= PROGRESS_EVERY);
        let waiting = match self.suspended {
            0 => String::new(),
            n => format!(", {n} waiting for an answer"),
        };
        match bar {
            Some(bar) => {
                bar.set_position(self.finished as u64);
                bar.set_message(waiting);
            }
            None if due || self.finished == self.ids.len() => {
                *last = Some(tokio::time::Instant::now());
                eprintln!("{}/{} finished{waiting}", self.finished, self.ids.len());
            }
            None => {}
        }
    }
}
