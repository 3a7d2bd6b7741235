//! The hypervisor capability on Proxmox VE. Every change to a VM holds that
//! VM's lock in this driver; task-based changes wait for their task.
//! Operations are written to be safe to repeat after `MaybeApplied`:
//! starting a running VM, stopping a stopped one, plugging a NIC that is
//! already there, or growing a disk to its current size do nothing.

use crate::credentials::Secret;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;

use super::client::Params;
use super::tasks;
use super::validate;
use super::vmconfig::{self, encode_ssh_keys, format_ipconfig, format_nic, nic_mac, text};
use super::ProxmoxDriver;
use crate::drivers::error::{DriverError, ErrorClass};
use crate::drivers::hypervisor::{
    CloneSpec, Hypervisor, Nic, PowerState, VmRef, VmSpec, VmState, VmSummary, VmUpdate,
};

fn qemu(vm: &VmRef) -> String {
    format!("/nodes/{}/qemu/{}", vm.node, vm.vmid)
}

fn param(key: &str, value: impl ToString) -> (String, String) {
    (key.to_string(), value.to_string())
}

impl ProxmoxDriver {
    async fn config(&self, vm: &VmRef) -> Result<Value, DriverError> {
        self.client
            .request(Method::GET, &format!("{}/config", qemu(vm)), &Vec::new())
            .await
    }

    async fn status(&self, vm: &VmRef) -> Result<Value, DriverError> {
        self.client
            .request(
                Method::GET,
                &format!("{}/status/current", qemu(vm)),
                &Vec::new(),
            )
            .await
    }

    async fn task(&self, method: Method, path: &str, params: &Params) -> Result<(), DriverError> {
        tasks::run(&self.client, &self.poll, method, path, params)
            .await
            .1
    }

    /// Creates and clones: when a retried request is refused because the
    /// VM already exists, an attempt that seemed to fail may have made it.
    async fn task_creating(&self, path: &str, params: &Params) -> Result<(), DriverError> {
        let (attempts, result) =
            tasks::run(&self.client, &self.poll, Method::POST, path, params).await;
        match result {
            Err(err)
                if attempts > 1
                    && err.class == ErrorClass::Permanent
                    && err.message.contains("already exists") =>
            {
                Err(DriverError {
                    class: ErrorClass::MaybeApplied,
                    message: format!(
                        "{} (after {attempts} attempts: an earlier one may have made it)",
                        err.message
                    ),
                    ..err
                })
            }
            other => other,
        }
    }

    async fn power(&self, vm: &VmRef, action: &str, params: &Params) -> Result<(), DriverError> {
        let path = format!("{}/status/{action}", qemu(vm));
        self.task(Method::POST, &path, params).await
    }
}

#[async_trait]
impl Hypervisor for ProxmoxDriver {
    async fn next_free_id(&self) -> Result<u32, DriverError> {
        let data = self
            .client
            .request(Method::GET, "/cluster/nextid", &Vec::new())
            .await?;
        // PVE answers a JSON string; accept a number too.
        text(&data).and_then(|t| t.parse().ok()).ok_or_else(|| {
            DriverError::permanent(
                "pve:cluster",
                "GET /cluster/nextid",
                format!("unexpected answer {data}"),
            )
        })
    }

    async fn create_vm(
        &self,
        node: &str,
        vmid: u32,
        spec: &VmSpec,
    ) -> Result<VmState, DriverError> {
        let target = format!("pve:{node}");
        let action = format!("POST /nodes/{node}/qemu");
        validate::name(&spec.name, &target, &action)?;
        for nic in spec.nics.values() {
            validate::nic(nic, &target, &action)?;
        }
        let _guard = self.locks.lock(vmid).await;
        let mut params = vec![
            param("vmid", vmid),
            param("name", &spec.name),
            param("cores", spec.cores),
            param("memory", spec.memory_mb),
            param("ostype", "l26"),
            param("scsihw", "virtio-scsi-single"),
        ];
        if let Some(description) = &spec.description {
            params.push(param("description", description));
        }
        if let Some((storage, size_gb)) = &spec.disk {
            params.push(param("scsi0", format!("{storage}:{size_gb},iothread=1")));
        }
        if let Some(iso) = &spec.iso {
            params.push(param("ide2", format!("{iso},media=cdrom")));
            params.push(param("boot", "order=ide2;scsi0"));
        }
        for (slot, nic) in &spec.nics {
            params.push(param(&format!("net{slot}"), format_nic(nic)));
        }
        if let Some((storage, cloud_init)) = &spec.cloud_init {
            let drive = if spec.iso.is_some() { "ide0" } else { "ide2" };
            params.push(param(drive, format!("{storage}:cloudinit")));
            if let Some(user) = &cloud_init.user {
                params.push(param("ciuser", user));
            }
            if !cloud_init.ssh_keys.is_empty() {
                params.push(param("sshkeys", encode_ssh_keys(&cloud_init.ssh_keys)));
            }
            for (slot, ip) in &cloud_init.ip {
                params.push(param(&format!("ipconfig{slot}"), format_ipconfig(ip)));
            }
        }
        self.task_creating(&format!("/nodes/{node}/qemu"), &params)
            .await?;
        self.read_vm(&VmRef::new(node, vmid)).await
    }

    async fn clone_vm(&self, template: &VmRef, spec: &CloneSpec) -> Result<VmState, DriverError> {
        validate::name(
            &spec.name,
            &format!("pve:{}", template.node),
            &format!("POST {}/clone", qemu(template)),
        )?;
        let _guard = self.locks.lock(spec.vmid).await;
        let mut params = vec![
            param("newid", spec.vmid),
            param("name", &spec.name),
            param("full", if spec.full { 1 } else { 0 }),
        ];
        if let Some(description) = &spec.description {
            params.push(param("description", description));
        }
        if let Some(target) = &spec.target_node {
            params.push(param("target", target));
        }
        if let (Some(storage), true) = (&spec.storage, spec.full) {
            params.push(param("storage", storage));
        }
        self.task_creating(&format!("{}/clone", qemu(template)), &params)
            .await?;
        let node = spec
            .target_node
            .clone()
            .unwrap_or_else(|| template.node.clone());
        self.read_vm(&VmRef::new(node, spec.vmid)).await
    }

    async fn read_vm(&self, vm: &VmRef) -> Result<VmState, DriverError> {
        let config = self.config(vm).await?;
        let status = self.status(vm).await?;
        Ok(vmconfig::vm_state(vm, &config, &status))
    }

    async fn list_vms(&self, node: &str) -> Result<Vec<VmSummary>, DriverError> {
        let data = self
            .client
            .request(Method::GET, &format!("/nodes/{node}/qemu"), &Vec::new())
            .await?;
        let mut list: Vec<VmSummary> = data
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| vmconfig::vm_summary(node, e))
                    .collect()
            })
            .unwrap_or_default();
        list.sort_by_key(|s| s.vm.vmid);
        Ok(list)
    }

    async fn update_vm(&self, vm: &VmRef, update: &VmUpdate) -> Result<VmState, DriverError> {
        if update.is_empty() {
            return self.read_vm(vm).await;
        }
        let target = format!("pve:{}", vm.node);
        let action = format!("PUT {}/config", qemu(vm));
        if let Some(name) = &update.name {
            validate::name(name, &target, &action)?;
        }
        for nic in update.nics.values().flatten() {
            validate::nic(nic, &target, &action)?;
        }
        let _guard = self.locks.lock(vm.vmid).await;
        // Changing a NIC without naming a MAC keeps its MAC (PVE would pick a new one).
        let current = if update
            .nics
            .values()
            .any(|n| n.as_ref().is_some_and(|n| n.mac.is_none()))
        {
            Some(self.config(vm).await?)
        } else {
            None
        };
        let mut params = Vec::new();
        let mut delete = Vec::new();
        if let Some(name) = &update.name {
            params.push(param("name", name));
        }
        if let Some(cores) = update.cores {
            params.push(param("cores", cores));
        }
        if let Some(memory) = update.memory_mb {
            params.push(param("memory", memory));
        }
        if let Some(listen) = &update.vnc {
            params.push(param("args", super::vmconfig::vnc_args(listen)));
        }
        if let Some(description) = &update.description {
            params.push(param("description", description));
        }
        if let Some(ci) = &update.cloud_init {
            if let Some(user) = &ci.user {
                params.push(param("ciuser", user));
            }
            match &ci.ssh_keys {
                Some(keys) if keys.is_empty() => delete.push("sshkeys".to_string()),
                Some(keys) => params.push(param("sshkeys", encode_ssh_keys(keys))),
                None => {}
            }
            for (slot, ip) in &ci.ip {
                match ip {
                    Some(ip) => params.push(param(&format!("ipconfig{slot}"), format_ipconfig(ip))),
                    None => delete.push(format!("ipconfig{slot}")),
                }
            }
        }
        for (slot, nic) in &update.nics {
            match nic {
                Some(nic) => {
                    let mut nic = nic.clone();
                    if nic.mac.is_none() {
                        nic.mac = current.as_ref().and_then(|c| nic_mac(c, *slot));
                    }
                    params.push(param(&format!("net{slot}"), format_nic(&nic)));
                }
                None => delete.push(format!("net{slot}")),
            }
        }
        if !delete.is_empty() {
            params.push(param("delete", delete.join(",")));
        }
        if let Some(revision) = &update.if_revision {
            params.push(param("digest", revision));
        }
        self.client
            .request(Method::PUT, &format!("{}/config", qemu(vm)), &params)
            .await?;
        self.read_vm(vm).await
    }

    async fn resize_disk(&self, vm: &VmRef, disk: &str, size_gb: u64) -> Result<(), DriverError> {
        let _guard = self.locks.lock(vm.vmid).await;
        let config = self.config(vm).await?;
        let state = vmconfig::vm_state(vm, &config, &Value::Null);
        let action = format!("resize {disk}");
        let current = state.disks.get(disk).ok_or_else(|| {
            DriverError::permanent(
                format!("pve:{}", vm.node),
                &action,
                format!("VM {} has no disk {disk}", vm.vmid),
            )
        })?;
        let wanted = size_gb << 30;
        if wanted < current.size_bytes {
            return Err(DriverError::permanent(
                format!("pve:{}", vm.node),
                action,
                format!(
                    "{disk} is {} GiB; shrinking disks is not supported (asked for {size_gb} GiB)",
                    current.size_gb()
                ),
            ));
        }
        if wanted == current.size_bytes {
            return Ok(());
        }
        // An absolute size is safe to send again.
        let params = vec![param("disk", disk), param("size", format!("{size_gb}G"))];
        self.task(Method::PUT, &format!("{}/resize", qemu(vm)), &params)
            .await
    }

    async fn start_vm(&self, vm: &VmRef) -> Result<(), DriverError> {
        let _guard = self.locks.lock(vm.vmid).await;
        if vmconfig::vm_state(vm, &Value::Null, &self.status(vm).await?).power
            == PowerState::Running
        {
            return Ok(());
        }
        match self.power(vm, "start", &Vec::new()).await {
            Err(err) if err.message.contains("already running") => Ok(()),
            other => other,
        }
    }

    async fn stop_vm(&self, vm: &VmRef) -> Result<(), DriverError> {
        let _guard = self.locks.lock(vm.vmid).await;
        self.power(vm, "stop", &Vec::new()).await
    }

    async fn shutdown_vm(&self, vm: &VmRef, timeout: Duration) -> Result<(), DriverError> {
        let _guard = self.locks.lock(vm.vmid).await;
        let params = vec![param("timeout", timeout.as_secs()), param("forceStop", 1)];
        self.power(vm, "shutdown", &params).await
    }

    async fn delete_vm(&self, vm: &VmRef) -> Result<(), DriverError> {
        let _guard = self.locks.lock(vm.vmid).await;
        let status = self.status(vm).await?;
        if vmconfig::vm_state(vm, &Value::Null, &status).power != PowerState::Stopped {
            // PVE refuses to destroy a running VM.
            self.power(vm, "stop", &Vec::new()).await?;
        }
        let params = vec![param("purge", 1), param("destroy-unreferenced-disks", 1)];
        self.task(Method::DELETE, &qemu(vm), &params).await
    }

    async fn plug_nic(&self, vm: &VmRef, slot: u32, nic: &Nic) -> Result<Nic, DriverError> {
        validate::nic(
            nic,
            &format!("pve:{}", vm.node),
            &format!("PUT {}/config", qemu(vm)),
        )?;
        let _guard = self.locks.lock(vm.vmid).await;
        let key = format!("net{slot}");
        let config = self.config(vm).await?;
        let existing = config
            .get(&key)
            .and_then(text)
            .and_then(|v| vmconfig::parse_nic(&v));
        let mut wanted = nic.clone();
        if wanted.mac.is_none() {
            wanted.mac = existing.as_ref().and_then(|e| e.mac);
        }
        if let Some(existing) = existing.filter(|e| *e == wanted) {
            return Ok(existing);
        }
        let params = vec![param(&key, format_nic(&wanted))];
        self.client
            .request(Method::PUT, &format!("{}/config", qemu(vm)), &params)
            .await?;
        let config = self.config(vm).await?;
        config
            .get(&key)
            .and_then(text)
            .and_then(|v| vmconfig::parse_nic(&v))
            .ok_or_else(|| {
                DriverError::maybe_applied(
                    format!("pve:{}", vm.node),
                    format!("PUT {}/config", qemu(vm)),
                    format!("{key} is not in the configuration after plugging it"),
                )
            })
    }

    /// QEMU's monitor `set_password vnc`, through Proxmox's monitor API
    /// (which needs `Sys.Modify`). The monitor answers nothing on success,
    /// and its complaint otherwise.
    async fn set_vnc_password(&self, vm: &VmRef, password: &Secret) -> Result<(), DriverError> {
        let params = vec![param(
            "command",
            format!("set_password vnc {}", password.expose()),
        )];
        let answer = self
            .client
            .request(Method::POST, &format!("{}/monitor", qemu(vm)), &params)
            .await?;
        match answer.as_str().map(str::trim) {
            None | Some("") => Ok(()),
            Some(complaint) => Err(DriverError::permanent(
                format!("pve:{}", vm.node),
                "set the VNC password",
                format!("QEMU refused the VNC password: {complaint}"),
            )),
        }
    }

    async fn unplug_nic(&self, vm: &VmRef, slot: u32) -> Result<(), DriverError> {
        let _guard = self.locks.lock(vm.vmid).await;
        let key = format!("net{slot}");
        let config = self.config(vm).await?;
        if config.get(&key).is_none() {
            return Ok(());
        }
        let params = vec![param("delete", &key)];
        self.client
            .request(Method::PUT, &format!("{}/config", qemu(vm)), &params)
            .await
            .map(|_| ())
    }
}
