//! Snapshots in a test: [`Harness::snapshot`] saves the emulator's state at a commit point,
//! [`Harness::restore`] puts it back (the emulator stops, the snapshot replaces its state,
//! the emulator starts again on it), [`Harness::fork`] starts a second emulator on a copy.

use super::{Harness, HarnessError, STOP_GRACE, fresh_state_dir};
use crate::emulate::control::ControlClient;
use crate::emulate::run::Emulator;
use crate::emulate::state::snapshot::{self, SnapshotInfo};

impl Harness {
    /// Saves snapshot `name` of the emulator's state (an existing one is replaced); returns
    /// what it holds.
    pub async fn snapshot(&self, name: &str) -> Result<SnapshotInfo, HarnessError> {
        Ok(self.client.save_snapshot(name, true).await?)
    }

    /// Goes back to snapshot `name`: the emulator stops (its processes too), the snapshot
    /// replaces its state, and it starts again on it, at the snapshot's virtual instant (a
    /// jump back in time the test asked for). The control URL changes.
    pub async fn restore(&mut self, name: &str) -> Result<SnapshotInfo, HarnessError> {
        snapshot::validate_name(name)?;
        if let Some(emulator) = self.emulator.take() {
            let store = emulator.driver.engine.store().cloned();
            emulator.stop(STOP_GRACE).await;
            // The state file is replaced next: the old writer must have closed it.
            if let Some(store) = store {
                let _ = store.close().wait().await;
            }
        }
        let (dir, owned) = (self.state_dir.clone(), name.to_string());
        let info = tokio::task::spawn_blocking(move || snapshot::restore(&dir, &owned))
            .await
            .map_err(|e| HarnessError::StateDir(std::io::Error::other(e.to_string())))??;
        let emulator =
            Emulator::start(self.options.clone(), &mut |line| tracing::debug!("{line}")).await?;
        self.client = ControlClient::new(emulator.control_url.clone());
        self.emulator = Some(emulator);
        Ok(info)
    }

    /// A second emulator of the same stack and platform on a new state directory made from
    /// snapshot `name`: from there the two diverge.
    pub async fn fork(&self, name: &str) -> Result<Harness, HarnessError> {
        let target = fresh_state_dir().map_err(HarnessError::StateDir)?;
        let (from, into, owned) = (self.state_dir.clone(), target.clone(), name.to_string());
        tokio::task::spawn_blocking(move || snapshot::fork(&from, &owned, &into))
            .await
            .map_err(|e| HarnessError::StateDir(std::io::Error::other(e.to_string())))??;
        Harness::launch(self.options.clone(), target, self.platform.clone()).await
    }
}
