package nl.wijkverkenner.android

import kotlin.math.max
import kotlin.math.roundToInt

/**
 * How the shell scales a camera's picture before the core takes it: the long edge at most the
 * team's limit (2048 px, the core's `PhotoLimits`), the aspect kept. The shell decodes at a
 * power-of-two sample size first (a 50-megapixel shot is never decoded whole on the phone),
 * then scales the rest of the way and encodes a JPEG with the platform's codec.
 */
object PhotoScale {
    const val MAX_LONG_EDGE = 2048

    /** JPEG quality the shell encodes with: a 2048-pixel photo is then 0.3–1.5 MB. */
    const val QUALITY = 85

    /** The largest power of two that still decodes `width`×`height` at a long edge ≥ `maxEdge`. */
    fun sampleSize(width: Int, height: Int, maxEdge: Int = MAX_LONG_EDGE): Int {
        require(width > 0 && height > 0 && maxEdge > 0) { "dimensions are positive" }
        var s = 1
        while (max(width, height) / (s * 2) >= maxEdge) s *= 2
        return s
    }

    /** The size to scale a decoded `width`×`height` picture to. */
    fun target(width: Int, height: Int, maxEdge: Int = MAX_LONG_EDGE): Pair<Int, Int> {
        require(width > 0 && height > 0 && maxEdge > 0) { "dimensions are positive" }
        val long = max(width, height)
        if (long <= maxEdge) return width to height
        val f = maxEdge.toDouble() / long
        return max(1, (width * f).roundToInt()).coerceAtMost(maxEdge) to max(1, (height * f).roundToInt()).coerceAtMost(maxEdge)
    }
}
