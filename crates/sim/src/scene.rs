//! The synthetic scene: a moving gradient, scrolling texture and moving boxes rendered into
//! reusable YUV 4:2:0 buffers, with the picture faults (black, blur, shift) and burned-in
//! text applied on top.

use crate::font;

/// What to draw this frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct RenderOpts {
    /// Covered lens: a black picture (the on-screen text is still drawn, as cameras do).
    pub black: bool,
    /// Box-blur the scene (not the text).
    pub blur: bool,
    /// Translate the scene by a large offset (the camera was moved).
    pub shift: bool,
    /// Add per-pixel noise (more detail, so the bit rate is realistic).
    pub noise: bool,
}

/// Renders frames of one size into buffers it owns (no per-frame allocation).
pub struct Renderer {
    pub width: usize,
    pub height: usize,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
    scratch: Vec<u16>,
    rng: u32,
}

impl Renderer {
    /// `width` and `height` must be even.
    pub fn new(width: usize, height: usize) -> Renderer {
        let (cw, ch) = (width / 2, height / 2);
        Renderer {
            width,
            height,
            y: vec![16; width * height],
            u: vec![128; cw * ch],
            v: vec![128; cw * ch],
            scratch: Vec::new(),
            rng: 0x9e37_79b9,
        }
    }

    /// Renders frame number `n` of the scene, then the `text` lines (top-left).
    pub fn render(&mut self, n: u64, opts: RenderOpts, text: &[&str]) {
        let (w, h) = (self.width, self.height);
        if opts.black {
            self.y.fill(16);
            self.u.fill(128);
            self.v.fill(128);
        } else {
            self.scene(n, opts);
            if opts.blur {
                self.blur_luma((w / 64).max(4));
            }
        }
        let scale = (h / 160).max(1);
        let mut ty = 2 * scale;
        for line in text {
            font::draw_text(&mut self.y, w, h, 2 * scale, ty, scale, line);
            ty += 10 * scale;
        }
    }

    fn scene(&mut self, n: u64, opts: RenderOpts) {
        let (w, h) = (self.width, self.height);
        let (ox, oy) = if opts.shift { (w / 3, h / 4) } else { (0, 0) };
        let t = n as usize;
        // Moving boxes, in scene coordinates.
        let bw = (w / 8).max(8);
        let bh = (h / 6).max(8);
        let span_x = (w + ox).saturating_sub(bw).max(1);
        let bx = tri(t * (w / 160).max(1), span_x);
        let by = tri(t * (h / 180).max(1), (h + oy).saturating_sub(bh).max(1));
        let dx = tri(t * (w / 110).max(1) + w / 2, span_x);
        let dy = h / 2 + oy;
        let tile = (w / 40).max(4);
        let band0 = h * 2 / 3 + oy;
        let band1 = band0 + h / 6;
        let mut rng = self.rng;
        for row in 0..h {
            let sy = row + oy;
            let line = &mut self.y[row * w..(row + 1) * w];
            let in_band = (band0..band1).contains(&sy);
            let in_box = (by..by + bh).contains(&sy);
            let in_dark = (dy..dy + bh / 2).contains(&sy);
            for (col, px) in line.iter_mut().enumerate() {
                let sx = col + ox;
                // Moving diagonal triangle wave.
                let g = tri(sx + sy + 3 * t, 255);
                let mut v = 40 + g * 150 / 255;
                if in_band {
                    // Scrolling checkerboard texture.
                    let cx = (sx + 4 * t) / tile;
                    let cy = sy / tile;
                    v = if (cx + cy) & 1 == 0 { 200 } else { 60 };
                }
                if in_box && (bx..bx + bw).contains(&sx) {
                    v = 225;
                }
                if in_dark && (dx..dx + bw / 2).contains(&sx) {
                    v = 30;
                }
                if opts.noise {
                    rng ^= rng << 13;
                    rng ^= rng >> 17;
                    rng ^= rng << 5;
                    v = (v + (rng & 15) as usize).saturating_sub(8);
                }
                *px = v.min(255) as u8;
            }
        }
        self.rng = rng;
        let (cw, ch) = (w / 2, h / 2);
        for row in 0..ch {
            let sy = row + oy / 2;
            let ul = &mut self.u[row * cw..(row + 1) * cw];
            for (col, px) in ul.iter_mut().enumerate() {
                *px = (90 + tri(col + ox / 2 + t, 80)) as u8;
            }
            let vl = &mut self.v[row * cw..(row + 1) * cw];
            let vv = (90 + tri(sy + 2 * t, 80)) as u8;
            vl.fill(vv);
        }
    }

    /// Separable box blur of the luma plane with radius `r` (running sums, O(1) per pixel).
    fn blur_luma(&mut self, r: usize) {
        let (w, h) = (self.width, self.height);
        self.scratch.resize(w * h, 0);
        let win = (2 * r + 1) as u32;
        // Horizontal pass into scratch.
        for row in 0..h {
            let src = &self.y[row * w..(row + 1) * w];
            let dst = &mut self.scratch[row * w..(row + 1) * w];
            let at = |i: isize| src[i.clamp(0, w as isize - 1) as usize] as u32;
            let mut sum: u32 = (-(r as isize)..=r as isize).map(at).sum();
            for (x, d) in dst.iter_mut().enumerate() {
                *d = (sum / win) as u16;
                sum += at(x as isize + r as isize + 1);
                sum -= at(x as isize - r as isize);
            }
        }
        // Vertical pass back into the plane.
        for col in 0..w {
            let at = |i: isize| self.scratch[i.clamp(0, h as isize - 1) as usize * w + col] as u32;
            let mut sum: u32 = (-(r as isize)..=r as isize).map(at).sum();
            for row in 0..h {
                self.y[row * w + col] = (sum / win) as u8;
                sum += at(row as isize + r as isize + 1);
                sum -= at(row as isize - r as isize);
            }
        }
    }
}

/// Triangle wave: 0 → `max` → 0 with period `2 * max`.
fn tri(x: usize, max: usize) -> usize {
    let p = x % (2 * max.max(1));
    if p <= max {
        p
    } else {
        2 * max - p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.abs_diff(*y) as f64)
            .sum::<f64>()
            / a.len() as f64
    }

    fn sharpness(y: &[u8], w: usize) -> f64 {
        y.chunks(w)
            .flat_map(|l| l.windows(2).map(|p| p[0].abs_diff(p[1]) as f64))
            .sum::<f64>()
    }

    #[test]
    fn scene_moves_and_faults_change_it() {
        let (w, h) = (160, 120);
        let mut r = Renderer::new(w, h);
        r.render(0, RenderOpts::default(), &[]);
        let f0 = r.y.clone();
        r.render(10, RenderOpts::default(), &[]);
        let f10 = r.y.clone();
        assert!(mean_abs_diff(&f0, &f10) > 5.0, "no motion");

        r.render(
            10,
            RenderOpts {
                blur: true,
                ..Default::default()
            },
            &[],
        );
        assert!(
            sharpness(&r.y, w) < sharpness(&f10, w) / 2.0,
            "blur not blurry"
        );

        r.render(
            10,
            RenderOpts {
                shift: true,
                ..Default::default()
            },
            &[],
        );
        assert!(
            mean_abs_diff(&r.y, &f10) > 10.0,
            "shift did not move the view"
        );

        r.render(
            10,
            RenderOpts {
                black: true,
                ..Default::default()
            },
            &[],
        );
        assert!(r.y.iter().all(|&p| p == 16));

        r.render(10, RenderOpts::default(), &["CAM1 12:34:56.789"]);
        assert!(r.y.contains(&235));
    }
}
