package nl.wijkverkenner.android

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

class PhotoScaleTest {
    @Test
    fun aCameraShotIsDecodedSmallAndScaledToTheTeamsLimit() {
        // A 50-megapixel shot decodes at half (a quarter would be below 2048), then scales.
        assertEquals(2, PhotoScale.sampleSize(8160, 6120))
        assertEquals(2048 to 1536, PhotoScale.target(8160 / 2, 6120 / 2))
        assertEquals(1, PhotoScale.sampleSize(2600, 1950))
        assertEquals(2048 to 1536, PhotoScale.target(2600, 1950))
        assertEquals(1536 to 2048, PhotoScale.target(1950, 2600))
        // Small enough already: untouched.
        assertEquals(1, PhotoScale.sampleSize(1024, 768))
        assertEquals(1024 to 768, PhotoScale.target(1024, 768))
        // Extreme shapes keep a pixel and stay within the limit.
        assertEquals(2048 to 1, PhotoScale.target(10000, 2))
        for (w in listOf(1, 7, 2047, 2048, 2049, 4097, 9999)) for (h in listOf(1, 3, 2048, 3001)) {
            val (tw, th) = PhotoScale.target(w, h)
            assertTrue("$w×$h → $tw×$th", tw in 1..2048 && th in 1..2048 && maxOf(tw, th) == minOf(2048, maxOf(w, h)))
            val s = PhotoScale.sampleSize(w, h)
            assertTrue("$w×$h sampled by $s", maxOf(w, h) / s >= minOf(2048, maxOf(w, h)))
        }
    }
}
