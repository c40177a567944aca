package nl.wijkverkenner.app

import android.content.ContentProvider
import android.content.ContentValues
import android.database.Cursor
import android.database.MatrixCursor
import android.net.Uri
import android.os.ParcelFileDescriptor
import android.provider.OpenableColumns
import java.io.File

/**
 * The one file the platform's camera app may write: the next shot, in the app's no-backup
 * storage (never the gallery, never a backup), handed out by this provider for the length of
 * one capture (the camera gets the write permission with the intent, nothing else). No AndroidX:
 * the app's own provider. The shot lives seconds: the app scales it, hands it to the core
 * (which cleans it and keeps it in the encrypted store) and deletes the file.
 */
class PhotoProvider : ContentProvider() {
    companion object {
        const val AUTHORITY = "nl.wijkverkenner.app.photos"
        val SHOT: Uri = Uri.parse("content://$AUTHORITY/shot.jpg")

        fun shotFile(dir: File): File = File(File(dir, "camera"), "shot.jpg")
    }

    override fun onCreate(): Boolean = true

    private fun file(uri: Uri): File {
        require(uri.authority == AUTHORITY && uri.path == "/shot.jpg") { "no such file" }
        return shotFile(context!!.noBackupFilesDir).also { it.parentFile?.mkdirs() }
    }

    override fun openFile(uri: Uri, mode: String): ParcelFileDescriptor =
        ParcelFileDescriptor.open(file(uri), ParcelFileDescriptor.parseMode(mode))

    override fun getType(uri: Uri): String = "image/jpeg"

    override fun query(uri: Uri, projection: Array<out String>?, selection: String?, args: Array<out String>?, order: String?): Cursor {
        val f = file(uri)
        return MatrixCursor(arrayOf(OpenableColumns.DISPLAY_NAME, OpenableColumns.SIZE)).apply { addRow(arrayOf<Any>(f.name, f.length())) }
    }

    override fun insert(uri: Uri, values: ContentValues?): Uri? = null

    override fun delete(uri: Uri, selection: String?, args: Array<out String>?): Int = 0

    override fun update(uri: Uri, values: ContentValues?, selection: String?, args: Array<out String>?): Int = 0
}
