package nl.wijkverkenner.app

import org.junit.Assert.assertEquals
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [34], application = TestApp::class)
class SmokeTest {
    @Test
    fun notEnrolledGoesToEnrolment() {
        val main = Robolectric.buildActivity(MainActivity::class.java).setup().get()
        assertEquals(true, main.isFinishing)
    }
}
