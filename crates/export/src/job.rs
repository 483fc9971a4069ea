//! One run of the engine from a plan to its end, as every front end runs it: a dry run
//! (plan shown, output folder checked, nothing written), a cluster node's registration,
//! or the export itself. The binary and the Python package both call [`Job::run`] and
//! only render what it returns, so the order of those steps has one owner.

use rayon::ThreadPool;

use crate::cluster::{self, Registration};
use crate::destination::records::ShardResult;
use crate::destination::state::OutDir;
use crate::error::Result;
use crate::export::export;
use crate::plan::Plan;
use crate::plan::options::Options;
use crate::report::dry_run::DryRun;
use crate::report::observer::Observer;

/// What a run is asked to do with its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Check the output folder and describe the plan; write nothing.
    DryRun,
    /// Record this node's shards and schemas in the output folder (needs
    /// [`Options::node`]); export nothing.
    Register,
    /// Export: the whole plan, or this node's share of it when [`Options::node`] is set.
    Export,
}

/// What a run did.
#[derive(Debug)]
pub enum Done {
    /// [`Job::DryRun`]'s plan.
    DryRun(DryRun),
    /// [`Job::Register`]'s record.
    Registered(Registration),
    /// [`Job::Export`]'s outcome per shard, for [`crate::Report::new`] with the plan as
    /// the run left it (a node's share).
    Exported(Vec<ShardResult>),
}

impl Job {
    /// The job `--dry-run` and `--register` ask for (a dry run wins, as it writes nothing).
    pub fn from_flags(dry_run: bool, register: bool) -> Job {
        match (dry_run, register) {
            (true, _) => Job::DryRun,
            (false, true) => Job::Register,
            (false, false) => Job::Export,
        }
    }

    /// Runs the job on `pool` (the caller's: the library starts no threads). For an
    /// export, the output folder is prepared ([`OutDir::prepare`]), a node takes its share
    /// of `plan` ([`cluster::assign`]), then [`export`] tells `observer` the plan's final
    /// size ([`Observer::planned`]) and its progress.
    ///
    /// # Errors
    /// Those of the step that failed: the output folder, the cluster records, or the
    /// export's first error.
    pub fn run(
        self,
        pool: &ThreadPool,
        options: &Options,
        plan: &mut Plan,
        observer: &dyn Observer,
    ) -> Result<Done> {
        if self == Job::DryRun {
            let out = OutDir::check(options)?;
            return pool
                .install(|| DryRun::new(options, plan, &out))
                .map(Done::DryRun);
        }
        let out = OutDir::prepare(options)?;
        if self == Job::Register {
            return pool
                .install(|| cluster::register(options, plan, &out))
                .map(Done::Registered);
        }
        if options.node().is_some() {
            cluster::assign(options, plan, &out)?;
        }
        let plan = &*plan;
        pool.install(|| export(options, plan, &out, observer))
            .map(Done::Exported)
    }
}
