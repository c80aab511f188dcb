//! The dashboard's overview: the whole queue at a glance, read in two
//! pipelined round trips from counters and index sizes, whatever the number
//! of jobs (nothing here scans keys or walks a list of jobs).

use super::*;

impl Overview {
    /// A partitioned queue's overview from its partitions': counts added
    /// up; hosts, pauses, caps, rates and liveness from the first (they are
    /// the same in each, or kept in the first only).
    fn add_up(each: Vec<Overview>) -> Overview {
        let mut parts = each.into_iter();
        let mut total = parts.next().unwrap_or_default();
        for part in parts {
            total.scheduled += part.scheduled;
            total.suspended += part.suspended;
            total.running += part.running;
            total.dead_letter += part.dead_letter;
            total.stats = super::router::add_up([std::mem::take(&mut total.stats), part.stats]);
            for (sum, m) in total.throughput.iter_mut().zip(part.throughput) {
                sum.completed += m.completed;
                sum.dead += m.dead;
            }
            for figures in part.job_types {
                match total
                    .job_types
                    .iter_mut()
                    .find(|t| t.job_type == figures.job_type)
                {
                    Some(sum) => {
                        sum.ready += figures.ready;
                        sum.running += figures.running;
                        sum.completed += figures.completed;
                        sum.dead += figures.dead;
                    }
                    None => total.job_types.push(figures),
                }
            }
        }
        total
    }
}

impl Queue {
    /// Reads the overview: two pipelined round trips a partition, every
    /// partition at once.
    pub async fn overview(&self) -> Result<Overview, QueueError> {
        if let Some(only) = self.single() {
            return only.overview().await;
        }
        let each = self
            .on_every(|part| async move { part.overview().await })
            .await?;
        Ok(Overview::add_up(each))
    }
}
