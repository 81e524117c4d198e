package tensor

import "math"

// Forward/backward kernel pairs for training (package train). Each forward
// saves what its backward needs (rstd, softmax probabilities) in buffers the
// caller owns; each backward accumulates (+=) into its gradients, so one
// buffer can collect contributions from several paths (a residual, GQA heads
// sharing a KV head, tied embeddings). Sizes: B sequences, T positions, C
// channels, NH query heads, NKV key/value heads, HS head size, V vocabulary.

// RMSNormForward sets out (N, C) = inp * rstd * weight and saves
// rstd (N) = 1/sqrt(mean(inp²)+eps) per row, for RMSNormBackward.
// PyTorch (HF Qwen2RMSNorm): x * torch.rsqrt(x.pow(2).mean(-1) + eps) * w.
func RMSNormForward(out, rstd, inp, weight []float32, N, C int, eps float32) {
	ParallelFor(N, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			x := inp[t*C : t*C+C]
			o := out[t*C : t*C+C]
			var ss float64
			for _, v := range x {
				ss += float64(v) * float64(v)
			}
			r := float32(1 / math.Sqrt(ss/float64(C)+float64(eps)))
			rstd[t] = r
			for i, v := range x {
				o[i] = v * r * weight[i]
			}
		}
	})
}

// RMSNormBackward accumulates dinp (N, C) and dweight (C) from dout (N, C).
// With xhat = x*r: dw += dout*xhat;
// dx += r*(dout*w) - r*xhat*mean(dout*w*xhat). dweight may be nil.
func RMSNormBackward(dinp, dweight, dout, inp, weight, rstd []float32, N, C int) {
	ParallelFor(N, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			x := inp[t*C : t*C+C]
			g := dout[t*C : t*C+C]
			di := dinp[t*C : t*C+C]
			r := rstd[t]
			var dot float64 // Σ dout*w*xhat
			for i, v := range x {
				dot += float64(g[i] * weight[i] * v * r)
			}
			m := float32(dot / float64(C))
			for i, v := range x {
				xh := v * r
				di[i] += r * (g[i]*weight[i] - xh*m)
			}
		}
	})
	if dweight != nil {
		// Rows are summed per channel; split over channels to avoid races.
		ParallelFor(C, func(lo, hi int) {
			for t := 0; t < N; t++ {
				x := inp[t*C : t*C+C]
				g := dout[t*C : t*C+C]
				r := rstd[t]
				for i := lo; i < hi; i++ {
					dweight[i] += g[i] * x[i] * r
				}
			}
		})
	}
}

// RoPETables fills cos and sin (T, HS/2) for positions pos0..pos0+T-1 with
// HF's default rotary embedding: inv_freq[i] = theta^(-2i/HS), angle =
// pos*inv_freq[i]. The angles are computed in float64 and rounded once.
func RoPETables(cos, sin []float32, pos0, T, HS int, theta float64) {
	h := HS / 2
	for t := 0; t < T; t++ {
		for i := 0; i < h; i++ {
			inv := math.Pow(theta, -float64(2*i)/float64(HS))
			a := float64(pos0+t) * inv
			cos[t*h+i] = float32(math.Cos(a))
			sin[t*h+i] = float32(math.Sin(a))
		}
	}
}

// RoPEForward rotates each head of x (N, NH, HS) in place by the
// rotate-half convention, with row n at position n%T (B sequences of T):
// x[i] ← x[i]*cos - x[i+HS/2]*sin, x[i+HS/2] ← x[i+HS/2]*cos + x[i]*sin.
// PyTorch: q*cos + rotate_half(q)*sin with cos = cat(cos, cos).
func RoPEForward(x, cos, sin []float32, N, T, NH, HS int) { rope(x, cos, sin, N, T, NH, HS, 1) }

// RoPEBackward maps a gradient through RoPEForward in place. The rotation
// is orthogonal, so its backward is the rotation by the negative angle.
func RoPEBackward(dx, cos, sin []float32, N, T, NH, HS int) { rope(dx, cos, sin, N, T, NH, HS, -1) }

// rope rotates by the angle (dir 1) or its negative (dir -1). A few rows
// (decode) run inline: handing them to the pool would cost more than the
// rotation, and its closure would be an allocation per token.
func rope(x, cos, sin []float32, N, T, NH, HS int, dir float32) {
	if N*NH*HS <= 1<<14 {
		ropeRows(x, cos, sin, 0, N, T, NH, HS, dir)
		return
	}
	ParallelFor(N, func(lo, hi int) { ropeRows(x, cos, sin, lo, hi, T, NH, HS, dir) })
}

func ropeRows(x, cos, sin []float32, lo, hi, T, NH, HS int, dir float32) {
	h := HS / 2
	for n := lo; n < hi; n++ {
		t := n % T
		c := cos[t*h : t*h+h]
		s := sin[t*h : t*h+h]
		for hd := 0; hd < NH; hd++ {
			v := x[(n*NH+hd)*HS : (n*NH+hd+1)*HS]
			for i := 0; i < h; i++ {
				a, b, si := v[i], v[i+h], dir*s[i]
				v[i] = a*c[i] - b*si
				v[i+h] = b*c[i] + a*si
			}
		}
	}
}

// CausalAttentionForward computes causal grouped-query attention for B
// sequences of T positions: q (B*T, NH, HS), k and v (B*T, NKV, HS), query
// head h reading KV head h/(NH/NKV) (HF repeat_kv). It sets out (B*T, NH, HS)
// and saves the softmax probabilities att (B, NH, T, T) (entries above the
// diagonal are zero) for CausalAttentionBackward. Scale is 1/sqrt(HS).
func CausalAttentionForward(out, att, q, k, v []float32, B, T, NH, NKV, HS int) {
	rep := NH / NKV
	scale := float32(1 / math.Sqrt(float64(HS)))
	ParallelFor(B*NH, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			g := h / rep
			for t := 0; t < T; t++ {
				qt := q[((b*T+t)*NH+h)*HS : ((b*T+t)*NH+h+1)*HS]
				a := att[(bh*T+t)*T : (bh*T+t+1)*T]
				m := float32(math.Inf(-1))
				for s := 0; s <= t; s++ {
					ks := k[((b*T+s)*NKV+g)*HS : ((b*T+s)*NKV+g+1)*HS]
					a[s] = Dot(qt, ks) * scale
					if a[s] > m {
						m = a[s]
					}
				}
				var sum float32
				for s := 0; s <= t; s++ {
					e := float32(math.Exp(float64(a[s] - m)))
					a[s] = e
					sum += e
				}
				inv := 1 / sum
				for s := 0; s <= t; s++ {
					a[s] *= inv
				}
				for s := t + 1; s < T; s++ {
					a[s] = 0
				}
				o := out[((b*T+t)*NH+h)*HS : ((b*T+t)*NH+h+1)*HS]
				clear(o)
				for s := 0; s <= t; s++ {
					Axpy(o, v[((b*T+s)*NKV+g)*HS:((b*T+s)*NKV+g+1)*HS], a[s])
				}
			}
		}
	})
}

// CausalAttentionBackward accumulates dq, dk, dv from dout (B*T, NH, HS),
// given the saved probabilities att and the forward inputs. scratch holds
// T floats per worker; it is allocated here only when nil.
// With P = att: dP = dout·v, dS = P*(dP - Σ P*dP), dq += dS·k*scale,
// dk += dS^T·q*scale, dv += P^T·dout.
func CausalAttentionBackward(dq, dk, dv, dout, att, q, k, v []float32, B, T, NH, NKV, HS int) {
	rep := NH / NKV
	scale := float32(1 / math.Sqrt(float64(HS)))
	// One work item per (sequence, KV head): the query heads of a group
	// write the same dk/dv rows, so they stay on one worker.
	ParallelFor(B*NKV, func(lo, hi int) {
		dS := make([]float32, T)
		for bg := lo; bg < hi; bg++ {
			b, g := bg/NKV, bg%NKV
			for h := g * rep; h < (g+1)*rep; h++ {
				bh := b*NH + h
				for t := 0; t < T; t++ {
					row := ((b*T+t)*NH + h) * HS
					dot := dout[row : row+HS]
					qt := q[row : row+HS]
					a := att[(bh*T+t)*T : (bh*T+t+1)*T]
					var sum float32
					for s := 0; s <= t; s++ {
						vs := v[((b*T+s)*NKV+g)*HS : ((b*T+s)*NKV+g+1)*HS]
						dS[s] = Dot(dot, vs)
						sum += a[s] * dS[s]
						Axpy(dv[((b*T+s)*NKV+g)*HS:((b*T+s)*NKV+g+1)*HS], dot, a[s])
					}
					dqt := dq[row : row+HS]
					for s := 0; s <= t; s++ {
						ds := a[s] * (dS[s] - sum) * scale
						if ds == 0 {
							continue
						}
						off := ((b*T+s)*NKV + g) * HS
						Axpy(dqt, k[off:off+HS], ds)
						Axpy(dk[off:off+HS], qt, ds)
					}
				}
			}
		}
	})
}

// SwiGLUBackward accumulates dgate and dup (N) from dout for
// out = silu(gate)*up: dup += dout*silu(gate),
// dgate += dout*up*σ(gate)*(1 + gate*(1-σ(gate))).
func SwiGLUBackward(dgate, dup, dout, gate, up []float32) {
	ParallelFor(len(dout), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g := gate[i]
			s := 1 / (1 + float32(math.Exp(float64(-g))))
			dup[i] += dout[i] * g * s
			dgate[i] += dout[i] * up[i] * s * (1 + g*(1-s))
		}
	})
}

// EmbeddingForward sets out (N, C) to the rows of wte (V, C) picked by
// tokens (N). Token ids must be in [0, V).
func EmbeddingForward(out []float32, tokens []int32, wte []float32, N, C int) {
	for n := 0; n < N; n++ {
		id := int(tokens[n])
		copy(out[n*C:n*C+C], wte[id*C:id*C+C])
	}
}

// EmbeddingBackward accumulates dwte (V, C) += dout rows at their tokens.
func EmbeddingBackward(dwte, dout []float32, tokens []int32, N, C int) {
	for n := 0; n < N; n++ {
		id := int(tokens[n])
		Axpy(dwte[id*C:id*C+C], dout[n*C:n*C+C], 1)
	}
}

// CrossEntropyForward sets losses (N) = -log softmax(logits[n])[targets[n]]
// for logits (N, V); rows whose target is negative (HF's -100) are ignored
// and get loss 0. It returns how many rows were counted. The log-sum-exp is
// accumulated in float64, so a 150k vocabulary loses no precision.
func CrossEntropyForward(losses, logits []float32, targets []int32, N, V int) int {
	count := 0
	for n := 0; n < N; n++ {
		if targets[n] < 0 {
			losses[n] = 0
			continue
		}
		count++
		row := logits[n*V : n*V+V]
		losses[n] = float32(logSumExp(row) - float64(row[targets[n]]))
	}
	return count
}

// CrossEntropyBackward accumulates dlogits (N, V) += dlosses[n] *
// (softmax(logits[n]) - onehot(targets[n])) for counted rows. dlogits may
// not alias logits; see CrossEntropyInPlace for the fused form.
func CrossEntropyBackward(dlogits, logits, dlosses []float32, targets []int32, N, V int) {
	ParallelFor(N, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			if targets[n] < 0 {
				continue
			}
			row := logits[n*V : n*V+V]
			d := dlogits[n*V : n*V+V]
			lse := logSumExp(row)
			g := dlosses[n]
			for i, x := range row {
				d[i] += g * float32(math.Exp(float64(x)-lse))
			}
			d[targets[n]] -= g
		}
	})
}

// CrossEntropyInPlace is the fused forward and backward llm.c uses to avoid
// a second (N, V) buffer: it sets losses like CrossEntropyForward and
// overwrites logits with dscale * (softmax - onehot) (zero rows for ignored
// targets). It returns the number of counted rows.
func CrossEntropyInPlace(losses, logits []float32, targets []int32, dscale float32, N, V int) int {
	count := 0
	for n := 0; n < N; n++ {
		if targets[n] >= 0 {
			count++
		}
	}
	ParallelFor(N, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			row := logits[n*V : n*V+V]
			if targets[n] < 0 {
				losses[n] = 0
				clear(row)
				continue
			}
			// One exp per element: keep e^(x-max) in the row, then scale.
			xt := row[targets[n]]
			m := row[0]
			for _, x := range row[1:] {
				m = max(m, x)
			}
			var sum float64
			i := 0
			if k := impl; k.expShift != nil {
				i = V &^ 7
				if i > 0 {
					sum = k.expShift(&row[0], i, m)
				}
			}
			for ; i < V; i++ {
				e := math.Exp(float64(row[i] - m))
				row[i] = float32(e)
				sum += e
			}
			losses[n] = float32(float64(m) + math.Log(sum) - float64(xt))
			sc := float32(float64(dscale) / sum)
			for i := range row {
				row[i] *= sc
			}
			row[targets[n]] -= dscale
		}
	})
	return count
}

func logSumExp(row []float32) float64 {
	m := row[0]
	for _, x := range row[1:] {
		if x > m {
			m = x
		}
	}
	var s float64
	for _, x := range row {
		s += math.Exp(float64(x - m))
	}
	return float64(m) + math.Log(s)
}
