//! Making a waiting job wait on more jobs: the fan-in over work that fans out
//! in stages (a report that waits on the jobs that fan the work out, and on
//! what each of them fanned out, added as they go).

use super::*;
use keys::word;

impl Queue {
    /// Makes `target`, which waits on the running job `caller` or on its
    /// parent, also wait on `depends_on`. Only the holder of `caller`'s
    /// lease (`token`) may do it, and only while `target` is waiting, so it
    /// cannot have started. Dependencies it has already are left alone.
    /// Returns how many were added; on any refusal nothing is written.
    pub async fn wait_also(
        &self,
        caller: &str,
        token: &str,
        target: &str,
        depends_on: &[String],
    ) -> Result<u64, QueueError> {
        if depends_on.len() > MAX_DEPENDENCIES {
            return Err(invalid(
                "depends_on",
                format!(
                    "{} dependencies; at most {MAX_DEPENDENCIES}",
                    depends_on.len()
                ),
            ));
        }
        valid_id(target).map_err(|r| invalid("job id", r))?;
        for dep in depends_on {
            valid_id(dep).map_err(|r| invalid("depends_on", r))?;
        }
        let deps =
            serde_json::to_string(depends_on).map_err(|e| invalid("depends_on", e.to_string()))?;
        // The caller's partition, which holds its children and its
        // parent's (see route.rs); jobs elsewhere are unknown there.
        let home = self.of_token(token);
        let reply = home
            .run_write(&calls::WaitAlso {
                caller,
                lease_token: token,
                target,
                depends_on: deps,
                max_dependencies: MAX_DEPENDENCIES,
            })
            .await?;
        let (reason, named) = match reply {
            calls::WaitAlsoReply::Added(n) => return Ok(n),
            calls::WaitAlsoReply::Refused(reason, named) => (reason, named),
        };
        let refused = |reason: String| QueueError::CannotExtend {
            target: target.to_string(),
            reason,
        };
        Err(match reason.as_str() {
            word::STALE => refused(format!("job {caller:?} no longer holds its lease")),
            word::NOT_WAITING => refused(format!(
                "it is not waiting on {caller:?} or its parent (only a job still waiting on the caller or its parent can be made to wait on more)"
            )),
            word::UNKNOWN_DEPENDENCY => self.elsewhere(home, target, named).await?,
            word::SELF_DEPENDENCY => QueueError::SelfDependency(named),
            word::DEPENDENCY_FAILED => refused(format!(
                "dependency {named:?} already failed and it does not run after failures"
            )),
            word::TOO_MANY_DEPENDENCIES => refused(format!(
                "it would wait on more than {MAX_DEPENDENCIES} jobs"
            )),
            other => QueueError::Protocol(format!("wait_also refused with {other:?}")),
        })
    }

    /// The refusal of a dependency `home` (the caller's partition) does not
    /// hold: unknown, or, when it is in another partition, that it is
    /// there (asked only on this path, so a wait-also costs nothing more).
    async fn elsewhere(
        &self,
        home: &Partition,
        target: &str,
        dep: String,
    ) -> Result<QueueError, QueueError> {
        let found = self.locate(std::slice::from_ref(&dep)).await?;
        Ok(match found.first().copied().flatten() {
            Some(p) if p != home.index() => QueueError::CannotExtend {
                target: target.to_string(),
                reason: format!(
                    "dependency {dep:?} is in partition {p}, not in the caller's ({}); \
                     wait-also reaches only the caller's partition, which holds its \
                     children and its parent's",
                    home.index()
                ),
            },
            _ => QueueError::UnknownDependency(dep),
        })
    }
}
