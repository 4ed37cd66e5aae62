//! Choosing a display mode through the Graphics Output Protocol.

use alloc::format;
use kernel::boot_info::{FramebufferError, FramebufferInfo, PixelFormat};
use log::{info, warn};
use uefi::boot;
use uefi::proto::console::gop::{self, GraphicsOutput, Mode};

/// The largest mode we ask for: bigger screens cost memory bandwidth for little gain.
const MAX_WIDTH: usize = 1920;
const MAX_HEIGHT: usize = 1080;

fn has_framebuffer(mode: &Mode) -> bool {
    mode.info().pixel_format() != gop::PixelFormat::BltOnly
}

/// Switches to the largest mode up to 1920x1080 and describes its framebuffer.
pub fn set_up() -> Result<FramebufferInfo, FramebufferError> {
    let handle = boot::get_handle_for_protocol::<GraphicsOutput>().map_err(|_| FramebufferError::NoGop)?;
    // Exclusive access detaches the firmware's text console from the screen, so it
    // cannot scribble over what the kernel draws.
    let mut gop = boot::open_protocol_exclusive::<GraphicsOutput>(handle)
        .map_err(|e| FramebufferError::Firmware(format!("opening GOP failed: {:?}", e.status())))?;

    let best = gop
        .modes()
        .filter(|m| {
            let (w, h) = m.info().resolution();
            w <= MAX_WIDTH && h <= MAX_HEIGHT && has_framebuffer(m)
        })
        .max_by_key(|m| {
            let (w, h) = m.info().resolution();
            w * h
        });
    match best {
        Some(mode) if mode.info() != &gop.current_mode_info() => {
            let (w, h) = mode.info().resolution();
            if let Err(e) = gop.set_mode(&mode) {
                warn!("display: switching to {w}x{h} failed ({:?}); keeping the current mode", e.status());
            }
        }
        Some(_) => {}
        None => warn!("display: no mode up to {MAX_WIDTH}x{MAX_HEIGHT} has a framebuffer; keeping the current mode"),
    }

    let mode = gop.current_mode_info();
    let (width, height) = mode.resolution();
    let format = match mode.pixel_format() {
        gop::PixelFormat::Rgb => PixelFormat::Rgb,
        gop::PixelFormat::Bgr => PixelFormat::Bgr,
        gop::PixelFormat::Bitmask => match mode.pixel_bitmask() {
            Some(mask) => PixelFormat::Bitmask { red: mask.red, green: mask.green, blue: mask.blue },
            None => return Err(FramebufferError::Firmware("bitmask format without masks".into())),
        },
        gop::PixelFormat::BltOnly => return Err(FramebufferError::BltOnly),
    };
    let mut fb = gop.frame_buffer();
    let info = FramebufferInfo {
        base: fb.as_mut_ptr() as u64,
        size: fb.size(),
        width: u32::try_from(width).map_err(|_| too_big())?,
        height: u32::try_from(height).map_err(|_| too_big())?,
        stride: u32::try_from(mode.stride()).map_err(|_| too_big())?,
        format,
    };
    info!("display: GOP mode {}x{} ({:?})", info.width, info.height, info.format);
    Ok(info)
}

fn too_big() -> FramebufferError {
    FramebufferError::Firmware("the display mode is implausibly large".into())
}
