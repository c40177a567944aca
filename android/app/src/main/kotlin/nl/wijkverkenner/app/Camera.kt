package nl.wijkverkenner.app

import android.content.Context
import android.content.Intent
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.Matrix
import android.media.ExifInterface
import android.provider.MediaStore
import java.io.ByteArrayOutputStream
import nl.wijkverkenner.android.PhotoScale

/** The platform camera through an intent, and the shot scaled and encoded for the core. */
object Camera {
    const val REQUEST = 41

    /** Asks the camera app for one shot into [PhotoProvider.SHOT]. */
    fun intent(c: Context): Intent {
        PhotoProvider.shotFile(c.noBackupFilesDir).delete()
        return Intent(MediaStore.ACTION_IMAGE_CAPTURE)
            .putExtra(MediaStore.EXTRA_OUTPUT, PhotoProvider.SHOT)
            .addFlags(Intent.FLAG_GRANT_WRITE_URI_PERMISSION or Intent.FLAG_GRANT_READ_URI_PERMISSION)
    }

    /** Forgets the shot (cancelled, or taken). */
    fun discard(c: Context) {
        PhotoProvider.shotFile(c.noBackupFilesDir).delete()
    }

    /**
     * The shot as the core takes it: turned upright (the camera's orientation tag would not
     * survive), its long edge at most 2048 px, encoded as JPEG; `null` when the camera wrote
     * nothing. The file is deleted either way; the core removes the metadata.
     */
    fun take(c: Context): ByteArray? {
        val f = PhotoProvider.shotFile(c.noBackupFilesDir)
        try {
            if (!f.exists() || f.length() == 0L) return null
            val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
            BitmapFactory.decodeFile(f.path, bounds)
            if (bounds.outWidth <= 0 || bounds.outHeight <= 0) return null
            val sampled = BitmapFactory.decodeFile(
                f.path,
                BitmapFactory.Options().apply { inSampleSize = PhotoScale.sampleSize(bounds.outWidth, bounds.outHeight) },
            ) ?: return null
            val degrees = when (ExifInterface(f.path).getAttributeInt(ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL)) {
                ExifInterface.ORIENTATION_ROTATE_90 -> 90f
                ExifInterface.ORIENTATION_ROTATE_180 -> 180f
                ExifInterface.ORIENTATION_ROTATE_270 -> 270f
                else -> 0f
            }
            val (w, h) = PhotoScale.target(sampled.width, sampled.height)
            val m = Matrix().apply {
                postScale(w.toFloat() / sampled.width, h.toFloat() / sampled.height)
                postRotate(degrees)
            }
            val upright = Bitmap.createBitmap(sampled, 0, 0, sampled.width, sampled.height, m, true)
            val out = ByteArrayOutputStream()
            upright.compress(Bitmap.CompressFormat.JPEG, PhotoScale.QUALITY, out)
            return out.toByteArray()
        } finally {
            f.delete()
        }
    }
}
